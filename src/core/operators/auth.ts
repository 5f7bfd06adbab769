/**
 * Operator authentication (issue 3, point 5): first-admin setup with the one-time secret,
 * TOTP enrolment, login with password and TOTP, and bearer-token checks. There is no default
 * account: until setup, no login can succeed.
 *
 * Every outcome is a security event with who (`operator:<name>`), what and from where. Secrets
 * (passwords, codes, tokens, seeds) never reach an event. Brute-force throttling happens at the
 * edge before these methods run, so a banned source costs no scrypt.
 */
import { ErrorCodes, PalisadeError, isPalisadeError } from '../errors.ts';
import { hashPassword, verifyPassword } from '../identity/password.ts';
import { ROLE_SCOPES, roleRequiresMfa } from './permissions.ts';
import { hashToken, newTokenId, newTokenSecret } from './tokens.ts';
import { matchTotp, newTotpSeed, totpContext, totpEnrolment, type TotpEnrolment } from './totp.ts';
import type { Operator } from './types.ts';
import { assertUsername, normalizeUsername, principalOf, viewOf, type AuthContext, type OperatorServiceDeps, type OperatorView, type RequestContext } from './deps.ts';

export const DEFAULT_SESSION_TTL_MS = 8 * 3600_000;

export interface LoginInput {
  username: string;
  password: string;
  totp?: string | undefined;
}

export interface IssuedToken {
  id: string;
  /** The bearer secret: returned once, never stored. */
  token: string;
  expiresAt: number;
}

export class OperatorAuth {
  readonly #d: OperatorServiceDeps;
  readonly #now: () => number;
  /** A real hash to verify against for unknown usernames, so they take as long as known ones. */
  #dummyHash: Promise<string> | null = null;

  constructor(deps: OperatorServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** POST /api/v1/setup: the first admin, once. Returns the TOTP enrolment to confirm. */
  async setup(input: { secret: string; username: string; password: string }, ctx: RequestContext): Promise<{ operator: OperatorView; enrolment: TotpEnrolment }> {
    const username = normalizeUsername(input.username);
    const refuse = (reason: string, err: PalisadeError): never => {
      this.#d.events.record('admin.setup_refused', 'warning', { principal: principalOf(username), source: ctx.source, detail: { action: 'setup', reason } });
      throw err;
    };
    if ((await this.#d.operators.count()) > 0) refuse('complete', new PalisadeError(ErrorCodes.FORBIDDEN, 'setup is already complete'));
    if (!(await this.#d.setupSecret.verify(input.secret))) refuse('bad-secret', new PalisadeError(ErrorCodes.AUTH_FAILED, 'invalid or used setup secret'));
    assertUsername(username);
    this.#d.checkPassword(username, input.password);
    const seed = newTotpSeed();
    const op: Operator = {
      username,
      role: 'admin',
      status: 'active',
      passwordHash: await hashPassword(input.password),
      totpSealed: this.#d.secrets.seal(seed, totpContext(username)),
      mfa: 'pending',
      totpLastStep: null,
      createdAt: this.#now(),
      createdBy: null,
    };
    // Atomic: two concurrent setups with the secret cannot both create an admin.
    if (!(await this.#d.operators.createFirst(op))) refuse('complete', new PalisadeError(ErrorCodes.FORBIDDEN, 'setup is already complete'));
    await this.#d.setupSecret.consume();
    this.#d.events.record('admin.setup', 'critical', { principal: principalOf(username), source: ctx.source, detail: { action: 'setup', target: username, role: 'admin' } });
    return { operator: viewOf(op), enrolment: totpEnrolment(seed, username) };
  }

  /** Starts (or restarts) TOTP enrolment for an account without confirmed MFA. */
  async startEnrolment(input: { username: string; password: string }, ctx: RequestContext): Promise<TotpEnrolment> {
    const op = await this.#checkPassword(input.username, input.password, ctx, 'enroll');
    if (op.mfa === 'active') {
      this.#d.events.record('admin.enroll_refused', 'warning', { principal: principalOf(op.username), source: ctx.source, detail: { action: 'enroll', reason: 'already-enrolled' } });
      throw new PalisadeError(ErrorCodes.FORBIDDEN, 'TOTP is already enrolled; an admin must reset it first');
    }
    const seed = newTotpSeed();
    await this.#d.operators.update(op.username, { totpSealed: this.#d.secrets.seal(seed, totpContext(op.username)), mfa: 'pending', totpLastStep: null });
    this.#d.events.record('admin.enroll_started', 'info', { principal: principalOf(op.username), source: ctx.source, detail: { action: 'enroll', target: op.username } });
    return totpEnrolment(seed, op.username);
  }

  /** Confirms a pending enrolment with a code from the authenticator; MFA is active from then. */
  async confirmEnrolment(input: { username: string; password: string; totp: string }, ctx: RequestContext): Promise<OperatorView> {
    const op = await this.#checkPassword(input.username, input.password, ctx, 'enroll_confirm');
    if (op.mfa !== 'pending' || op.totpSealed === null) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, op.mfa === 'active' ? 'TOTP is already enrolled' : 'no enrolment is pending; start one first');
    }
    await this.#checkTotp(op, input.totp, ctx, 'enroll_confirm');
    await this.#d.operators.update(op.username, { mfa: 'active' });
    this.#d.events.record('admin.mfa_enrolled', 'info', { principal: principalOf(op.username), source: ctx.source, detail: { action: 'mfa_enrolled', target: op.username } });
    return viewOf({ ...op, mfa: 'active' });
  }

  /** POST /api/v1/auth/login: password, then TOTP where required; returns a session token. */
  async login(input: LoginInput, ctx: RequestContext): Promise<IssuedToken & { operator: OperatorView }> {
    const op = await this.#checkPassword(input.username, input.password, ctx, 'login');
    if (roleRequiresMfa(op.role) || op.mfa === 'active') {
      if (op.mfa !== 'active') {
        this.#d.events.record('admin.login_failed', 'warning', { principal: principalOf(op.username), source: ctx.source, detail: { action: 'login', reason: 'mfa-not-enrolled' } });
        throw new PalisadeError(ErrorCodes.MFA_REQUIRED, `the ${op.role} role needs TOTP: enrol first (POST /api/v1/auth/enroll)`);
      }
      await this.#checkTotp(op, input.totp, ctx, 'login');
    }
    const issued = await this.#issue(op.username, 'session', 'login session', [], this.#d.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS);
    this.#d.events.record('admin.login', 'info', { principal: principalOf(op.username), source: ctx.source, detail: { action: 'login', target: op.username, session: issued.id, mfa: op.mfa === 'active' } });
    return { ...issued, operator: viewOf(op) };
  }

  /** Resolves `Authorization: Bearer <token>`; AUTH_* errors for missing, unknown, expired or revoked. */
  async authenticate(bearer: string | null): Promise<AuthContext> {
    if (bearer === null || bearer === '') throw new PalisadeError(ErrorCodes.AUTH_NO_CREDENTIALS, 'authentication required: Authorization: Bearer <token>');
    const token = await this.#d.tokens.getByHash(hashToken(bearer));
    if (!token || token.revokedAt !== null || token.expiresAt <= this.#now()) throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'invalid, expired or revoked token');
    const operator = await this.#d.operators.get(token.operator);
    if (!operator || operator.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'invalid, expired or revoked token');
    const role = ROLE_SCOPES[operator.role];
    // Intersected with the role on every request: a demoted creator's tokens shrink at once.
    const scopes = token.kind === 'session' ? role : new Set(token.scopes.filter((s) => role.has(s)));
    return { operator, token, scopes };
  }

  async #issue(username: string, kind: 'session' | 'api', name: string, scopes: AuthContext['token']['scopes'], ttlMs: number): Promise<IssuedToken> {
    const token = newTokenSecret(kind);
    const id = newTokenId();
    const now = this.#now();
    await this.#d.tokens.create({ id, operator: username, kind, hash: hashToken(token), name, scopes, createdAt: now, expiresAt: now + ttlMs, revokedAt: null });
    return { id, token, expiresAt: now + ttlMs };
  }

  /** Exposed for the token service: API tokens are issued the same way as sessions. */
  issue(username: string, kind: 'session' | 'api', name: string, scopes: AuthContext['token']['scopes'], ttlMs: number): Promise<IssuedToken> {
    return this.#issue(username, kind, name, scopes, ttlMs);
  }

  async #checkPassword(rawUsername: string, password: string, ctx: RequestContext, action: string): Promise<Operator> {
    const username = normalizeUsername(rawUsername);
    const op = await this.#d.operators.get(username);
    this.#dummyHash ??= hashPassword('palisade-timing-equaliser');
    const ok = await verifyPassword(password, op?.passwordHash ?? (await this.#dummyHash));
    if (!op || !ok || op.status !== 'active') {
      const reason = !op ? 'unknown-user' : !ok ? 'bad-password' : 'disabled';
      this.#d.events.record(`admin.${action}_failed`, 'warning', { principal: principalOf(username), source: ctx.source, detail: { action, reason } });
      throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'invalid credentials');
    }
    return op;
  }

  /** RFC 6238 §5.2: window ±1, and each time step's code is accepted once (replay refused). */
  async #checkTotp(op: Operator, code: string | undefined, ctx: RequestContext, action: string): Promise<void> {
    const fail = (reason: string): never => {
      this.#d.events.record(`admin.${action}_failed`, 'warning', { principal: principalOf(op.username), source: ctx.source, detail: { action, reason } });
      throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'invalid credentials');
    };
    if (code === undefined || code === '') return fail('totp-missing');
    if (op.totpSealed === null) return fail('no-seed');
    let seed: string;
    try {
      seed = this.#d.secrets.open(op.totpSealed, totpContext(op.username)).toString('utf8');
    } catch (err) {
      if (!isPalisadeError(err)) throw err;
      return fail('seed-unreadable');
    }
    const step = matchTotp(seed, code, this.#now());
    if (step === null) return fail('totp-wrong');
    if (!(await this.#d.operators.useTotpStep(op.username, step))) return fail('totp-replay');
  }
}
