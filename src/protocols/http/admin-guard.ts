/**
 * Authentication and scope checks for admin routes: `Authorization: Bearer <token>` (session or
 * API token) is resolved once per request in a preHandler; the route's scope is checked before
 * its handler runs. Brute-force throttling of password logins (shield/auth-throttle.ts) also
 * lives here, so a banned source or username is refused before any scrypt runs.
 */
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ErrorCodes, PalisadeError, isPalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { AuthContext, OperatorService, RequestContext, Scope } from '../../core/operators/index.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import { sourceOf } from './app.ts';

const contexts = new WeakMap<FastifyRequest, AuthContext>();

export function ctxOf(req: FastifyRequest): RequestContext {
  return { source: sourceOf(req) };
}

function bearerOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer +(\S+)$/i.exec(h.trim());
  return m?.[1] ?? null;
}

/** preHandler: authenticates, and checks `scope` when given (null: any logged-in operator). */
export function guard(service: OperatorService, scope: Scope | null, action: string): preHandlerAsyncHookHandler {
  return async (req) => {
    const auth = await service.auth.authenticate(bearerOf(req));
    if (scope !== null) service.accounts.requireScope(auth, scope, ctxOf(req), action);
    contexts.set(req, auth);
  };
}

export function authOf(req: FastifyRequest): AuthContext {
  const auth = contexts.get(req);
  if (!auth) throw new PalisadeError(ErrorCodes.INTERNAL, 'route without guard');
  return auth;
}

/**
 * Runs a password check under the throttle: refused up front while the address or username is
 * banned, failures counted, success clearing the address (AuthThrottle's semantics).
 */
/**
 * Runs a credential check under the brute-force throttle: refused before `fn` (the hashing,
 * the token lookup) when the address or the operator is banned; an AUTH_FAILED from `fn`
 * counts as a failure. `area` names the events: `admin.throttled`, `enroll.banned`.
 */
export async function throttled<T>(throttle: AuthThrottle, events: Pick<EventLog, 'record'>, req: FastifyRequest, username: string | null, action: string, fn: () => Promise<T>, area: 'admin' | 'enroll' = 'admin'): Promise<T> {
  const keys = { address: req.socket.remoteAddress ?? 'unknown', username: username === null ? null : `operator:${username.trim().toLowerCase().slice(0, 64)}`, certSerial: null };
  const verdict = throttle.check(keys);
  if (!verdict.allowed) {
    events.record(`${area}.throttled`, 'warning', { principal: keys.username, source: sourceOf(req), detail: { action, key: verdict.key, retryAfterMs: verdict.retryAfterMs } });
    throw new PalisadeError(ErrorCodes.RATE_LIMITED, 'too many failed attempts; try again later', { detail: { retryAfterMs: verdict.retryAfterMs } });
  }
  try {
    const out = await fn();
    throttle.success(keys);
    return out;
  } catch (err) {
    if (isPalisadeError(err, ErrorCodes.AUTH_FAILED)) {
      const banned = throttle.failure(keys);
      if (banned.length > 0) events.record(`${area}.banned`, 'warning', { principal: keys.username, source: sourceOf(req), detail: { action, keys: banned } });
    }
    throw err;
  }
}
