/**
 * Break-glass recovery of an operator who lost their authenticator (issue 3, point 5). MFA can
 * never be turned off for the admin and operator roles through the API, so a lost TOTP device,
 * or the only admin losing theirs, needs a way back that does not weaken that rule: someone with
 * the gateway host's data directory (and so its master key, the root of trust anyway) resets the
 * account. The reset sets a new generated password, shown once to that person, clears the TOTP
 * seed and revokes every session and API token: the operator can then only enrol a new TOTP
 * with the new password, and log in after confirming it.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { generatePassword, hashPassword } from '../identity/password.ts';
import { normalizeUsername } from './deps.ts';
import type { OperatorRepo, OperatorTokenRepo } from './types.ts';

export interface RecoveryActor {
  /** Who ran it, e.g. `cli:root`. */
  principal: string;
  /** From where, e.g. `cli@gateway-host`. */
  source: string;
}

export interface MfaReset {
  username: string;
  /** The new password, to hand to the operator; never stored in clear, never logged. */
  password: string;
  tokensRevoked: number;
}

export async function resetOperatorMfa(deps: { operators: OperatorRepo; tokens: OperatorTokenRepo; events: Pick<EventLog, 'record'> }, rawUsername: string, actor: RecoveryActor, now = Date.now()): Promise<MfaReset> {
  const username = normalizeUsername(rawUsername);
  const op = await deps.operators.get(username);
  if (!op) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no operator ${username}`);
  const password = generatePassword();
  await deps.operators.update(username, { passwordHash: await hashPassword(password), mfa: 'none', totpSealed: null, totpLastStep: null });
  const tokensRevoked = await deps.tokens.revokeAllFor(username, now);
  deps.events.record('admin.mfa_reset', 'critical', { principal: actor.principal, source: actor.source, detail: { action: 'mfa_reset', target: username, role: op.role, tokensRevoked, breakGlass: true } });
  return { username, password, tokensRevoked };
}
