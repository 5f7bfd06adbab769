/**
 * What a logged-in operator may do to accounts and tokens (issue 3, point 5): admins manage
 * operators; everyone manages their own API tokens, which never exceed the creator's role.
 * Rules that keep the MFA promise: MFA cannot be removed from an admin or operator, a role
 * change to admin or operator needs MFA already active, and the last active admin cannot be
 * demoted, disabled or deleted (no lock-out). Every action is an `admin.*` event.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { hashPassword } from '../identity/password.ts';
import type { OperatorAuth, IssuedToken } from './auth.ts';
import { assertUsername, normalizeUsername, principalOf, viewOf, type AuthContext, type OperatorServiceDeps, type OperatorView, type RequestContext } from './deps.ts';
import { ROLE_SCOPES, roleRequiresMfa, type Scope } from './permissions.ts';
import type { Operator, OperatorRole, OperatorStatus, OperatorToken } from './types.ts';

export const DEFAULT_MAX_API_TOKEN_TTL_MS = 365 * 24 * 3600_000;

export interface TokenView {
  id: string;
  operator: string;
  kind: OperatorToken['kind'];
  name: string;
  scopes: Scope[];
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

function tokenView(t: OperatorToken): TokenView {
  return { id: t.id, operator: t.operator, kind: t.kind, name: t.name, scopes: t.scopes, createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt };
}

export class OperatorAccounts {
  readonly #d: OperatorServiceDeps;
  readonly #auth: OperatorAuth;
  readonly #now: () => number;

  constructor(deps: OperatorServiceDeps, auth: OperatorAuth) {
    this.#d = deps;
    this.#auth = auth;
    this.#now = deps.now ?? Date.now;
  }

  /** Records an admin action by the authenticated operator. */
  audit(auth: AuthContext, ctx: RequestContext, action: string, target: string | null, detail: Record<string, unknown> = {}): void {
    this.#d.events.record(`admin.${action}`, 'info', { principal: principalOf(auth.operator.username), source: ctx.source, detail: { action, target, via: auth.token.kind, ...detail } });
  }

  /** FORBIDDEN (and an event) unless the session or token holds `scope`. */
  requireScope(auth: AuthContext, scope: Scope, ctx: RequestContext, action: string): void {
    if (auth.scopes.has(scope)) return;
    this.#d.events.record('admin.denied', 'warning', { principal: principalOf(auth.operator.username), source: ctx.source, detail: { action, scope, via: auth.token.kind } });
    throw new PalisadeError(ErrorCodes.FORBIDDEN, `this needs scope ${scope}`, { detail: { scope } });
  }

  // --- API tokens ---------------------------------------------------------------------------

  async createToken(auth: AuthContext, input: { name: string; scopes: string[]; expiresInSeconds: number }, ctx: RequestContext): Promise<IssuedToken & { scopes: Scope[] }> {
    if (auth.token.kind !== 'session') throw new PalisadeError(ErrorCodes.FORBIDDEN, 'API tokens are created from a login session, not with another token');
    const role = ROLE_SCOPES[auth.operator.role];
    const scopes = [...new Set(input.scopes)];
    for (const s of scopes) {
      if (!role.has(s as Scope)) {
        this.#d.events.record('admin.denied', 'warning', { principal: principalOf(auth.operator.username), source: ctx.source, detail: { action: 'token_create', scope: s, reason: 'exceeds-role' } });
        throw new PalisadeError(ErrorCodes.FORBIDDEN, `scope ${s} exceeds the ${auth.operator.role} role`, { detail: { scope: s } });
      }
    }
    if (scopes.length === 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'a token needs at least one scope');
    const ttlMs = input.expiresInSeconds * 1000;
    const max = this.#d.maxApiTokenTtlMs ?? DEFAULT_MAX_API_TOKEN_TTL_MS;
    if (!Number.isInteger(input.expiresInSeconds) || input.expiresInSeconds < 1 || ttlMs > max) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `expiresInSeconds must be 1 to ${Math.floor(max / 1000)}`);
    }
    const issued = await this.#auth.issue(auth.operator.username, 'api', input.name, scopes as Scope[], ttlMs);
    this.audit(auth, ctx, 'token_created', issued.id, { scopes, expiresAt: issued.expiresAt, name: input.name });
    return { ...issued, scopes: scopes as Scope[] };
  }

  /** Own tokens; every operator's with `all` (needs operators:admin). */
  async listTokens(auth: AuthContext, all: boolean, ctx: RequestContext): Promise<TokenView[]> {
    if (all) this.requireScope(auth, 'operators:admin', ctx, 'tokens_list');
    const list = await this.#d.tokens.list(all ? {} : { operator: auth.operator.username });
    this.audit(auth, ctx, 'tokens_listed', all ? '*' : auth.operator.username);
    return list.map(tokenView);
  }

  /** Own tokens, or anyone's with operators:admin; NOT_FOUND hides others' token ids. */
  async revokeToken(auth: AuthContext, id: string, ctx: RequestContext): Promise<void> {
    const t = await this.#d.tokens.get(id);
    if (!t || (t.operator !== auth.operator.username && !auth.scopes.has('operators:admin'))) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no token ${id}`);
    const done = await this.#d.tokens.revoke(id, this.#now());
    this.audit(auth, ctx, 'token_revoked', id, { owner: t.operator, alreadyRevoked: !done });
  }

  async logout(auth: AuthContext, ctx: RequestContext): Promise<void> {
    await this.#d.tokens.revoke(auth.token.id, this.#now());
    this.audit(auth, ctx, 'logout', auth.token.id);
  }

  // --- operators (operators:admin) ----------------------------------------------------------

  async listOperators(auth: AuthContext, ctx: RequestContext): Promise<OperatorView[]> {
    this.requireScope(auth, 'operators:admin', ctx, 'operators_list');
    const list = await this.#d.operators.list();
    this.audit(auth, ctx, 'operators_listed', '*');
    return list.map(viewOf);
  }

  /**
   * A new account with no MFA: an admin or operator must enrol TOTP (POST /api/v1/auth/enroll)
   * before the first login, so the admin never sees the new operator's seed.
   */
  async createOperator(auth: AuthContext, input: { username: string; password: string; role: OperatorRole }, ctx: RequestContext): Promise<OperatorView> {
    this.requireScope(auth, 'operators:admin', ctx, 'operator_create');
    const username = normalizeUsername(input.username);
    assertUsername(username);
    this.#d.checkPassword(username, input.password);
    const op: Operator = { username, role: input.role, status: 'active', passwordHash: await hashPassword(input.password), totpSealed: null, mfa: 'none', totpLastStep: null, createdAt: this.#now(), createdBy: auth.operator.username };
    await this.#d.operators.create(op);
    this.audit(auth, ctx, 'operator_created', username, { role: input.role });
    return viewOf(op);
  }

  async updateOperator(auth: AuthContext, rawUsername: string, patch: { role?: OperatorRole; status?: OperatorStatus; password?: string }, ctx: RequestContext): Promise<OperatorView> {
    this.requireScope(auth, 'operators:admin', ctx, 'operator_update');
    const target = await this.#target(rawUsername);
    const next: Operator = { ...target, role: patch.role ?? target.role, status: patch.status ?? target.status };
    if (patch.role !== undefined && patch.role !== target.role && roleRequiresMfa(patch.role) && target.mfa !== 'active') {
      this.#refused(auth, ctx, 'operator_update', target.username, 'mfa-not-enrolled');
      throw new PalisadeError(ErrorCodes.MFA_REQUIRED, `${target.username} must enrol TOTP before becoming ${patch.role}`);
    }
    await this.#keepOneAdmin(auth, ctx, target, next, 'operator_update');
    if (patch.password !== undefined) this.#d.checkPassword(target.username, patch.password);
    await this.#d.operators.update(target.username, {
      role: next.role,
      status: next.status,
      ...(patch.password === undefined ? {} : { passwordHash: await hashPassword(patch.password) }),
    });
    // A disabled account or a reset password ends every session and token at once.
    let revoked = 0;
    if (next.status === 'disabled' || patch.password !== undefined) revoked = await this.#d.tokens.revokeAllFor(target.username, this.#now());
    this.audit(auth, ctx, 'operator_updated', target.username, { role: next.role, status: next.status, passwordReset: patch.password !== undefined, tokensRevoked: revoked });
    return viewOf(next);
  }

  async deleteOperator(auth: AuthContext, rawUsername: string, ctx: RequestContext): Promise<void> {
    this.requireScope(auth, 'operators:admin', ctx, 'operator_delete');
    const target = await this.#target(rawUsername);
    await this.#keepOneAdmin(auth, ctx, target, { ...target, status: 'disabled' }, 'operator_delete');
    await this.#d.operators.delete(target.username);
    this.audit(auth, ctx, 'operator_deleted', target.username, { role: target.role });
  }

  /** Turns MFA off: refused for the admin and operator roles, whose logins always need TOTP. */
  async disableMfa(auth: AuthContext, rawUsername: string, ctx: RequestContext): Promise<OperatorView> {
    this.requireScope(auth, 'operators:admin', ctx, 'mfa_disable');
    const target = await this.#target(rawUsername);
    if (roleRequiresMfa(target.role)) {
      this.#refused(auth, ctx, 'mfa_disable', target.username, `role-${target.role}`);
      throw new PalisadeError(ErrorCodes.MFA_REQUIRED, `MFA cannot be turned off for the ${target.role} role`);
    }
    await this.#d.operators.update(target.username, { mfa: 'none', totpSealed: null, totpLastStep: null });
    this.audit(auth, ctx, 'mfa_disabled', target.username);
    return viewOf({ ...target, mfa: 'none' });
  }

  async #target(rawUsername: string): Promise<Operator> {
    const username = normalizeUsername(rawUsername);
    const op = await this.#d.operators.get(username);
    if (!op) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no operator ${username}`);
    return op;
  }

  #refused(auth: AuthContext, ctx: RequestContext, action: string, target: string, reason: string): void {
    this.#d.events.record('admin.denied', 'warning', { principal: principalOf(auth.operator.username), source: ctx.source, detail: { action, target, reason } });
  }

  async #keepOneAdmin(auth: AuthContext, ctx: RequestContext, before: Operator, after: Operator, action: string): Promise<void> {
    const wasAdmin = before.role === 'admin' && before.status === 'active';
    const staysAdmin = after.role === 'admin' && after.status === 'active';
    if (!wasAdmin || staysAdmin) return;
    const admins = (await this.#d.operators.list()).filter((o) => o.role === 'admin' && o.status === 'active' && o.mfa === 'active');
    if (admins.some((o) => o.username !== before.username)) return;
    this.#refused(auth, ctx, action, before.username, 'last-admin');
    throw new PalisadeError(ErrorCodes.FORBIDDEN, `${before.username} is the last active admin`);
  }
}
