/** Operator accounts with enforced MFA, roles, scoped API tokens (issue 3, point 5). */
import { OperatorAccounts } from './accounts.ts';
import { OperatorAuth } from './auth.ts';
import type { OperatorServiceDeps } from './deps.ts';

export { OperatorAccounts, DEFAULT_MAX_API_TOKEN_TTL_MS, type TokenView } from './accounts.ts';
export { OperatorAuth, DEFAULT_SESSION_TTL_MS, type IssuedToken, type LoginInput } from './auth.ts';
export { principalOf, viewOf, type AuthContext, type OperatorServiceDeps, type OperatorView, type RequestContext, type SetupSecretPort } from './deps.ts';
export { ROLES, ROLE_SCOPES, SCOPES, isScope, roleRequiresMfa, type Scope } from './permissions.ts';
export { matchTotp, totpContext, TOTP_PERIOD_SECONDS, TOTP_WINDOW, type TotpEnrolment } from './totp.ts';
export type { MfaState, Operator, OperatorPatch, OperatorRepo, OperatorRole, OperatorStatus, OperatorToken, OperatorTokenRepo, TokenKind } from './types.ts';

export interface OperatorService {
  auth: OperatorAuth;
  accounts: OperatorAccounts;
}

export function createOperatorService(deps: OperatorServiceDeps): OperatorService {
  const auth = new OperatorAuth(deps);
  return { auth, accounts: new OperatorAccounts(deps, auth) };
}
