/**
 * Who a device API request comes from (issue 4 point 1). A device proves itself by
 *  - its TLS client certificate from Palisade's CA (the HTTPS listener requests one without
 *    requiring it; tls-identity.ts keeps only a certificate the handshake verified), or
 *  - its device token, the generated credential `palisade device add --password` prints:
 *    HTTP Basic `deviceId:token` (RFC 7617), or `Authorization: Bearer <deviceId>.<token>`
 *    (RFC 6750; split at the last dot, generated tokens are base64url and have none).
 * Operators' admin tokens are not device identities: they fail here like any wrong token.
 *
 * Every attempt goes through the shared AuthThrottle before any hashing, with the keys the MQTT
 * listener uses (address, device id, certificate serial), so guessing over HTTP and over MQTT
 * adds up. A principal is cached per TLS connection (keep-alive) together with the header that
 * proved it, until DeviceMessaging.epoch moves (a device changed, a certificate was revoked).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError, isPalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { Authenticator, PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { DeviceContext, DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import type { PolicyEngine } from '../../core/policy/types.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import { peerIdentity } from '../tls-identity.ts';
import { sourceOf } from './app.ts';

export interface DeviceAuthDeps {
  authenticator: Authenticator;
  policy: PolicyEngine;
  throttle: AuthThrottle;
  events: Pick<EventLog, 'record'>;
  messaging: Pick<DeviceMessaging, 'epoch'>;
  /**
   * The shield's ban list for the device id (a device's username and client id over MQTT): a
   * banned device is refused on every request, also on a connection that authenticated earlier.
   */
  isBanned?: (deviceId: string) => boolean;
}

interface Cached {
  epoch: number;
  header: string | undefined;
  principal: DevicePrincipal;
  policy: DeviceContext['policy'];
}

/** Failures that count towards a ban: wrong secrets, not a missing one or a disabled device. */
const FAILURES = new Set<string>([ErrorCodes.AUTH_FAILED, ErrorCodes.CERT_REVOKED]);

type Claim = { kind: 'certificate'; cert: PeerCertificateIdentity } | { kind: 'token'; deviceId: string; secret: Buffer };

/** Reads the credentials a request carries; null when it carries none. Throws AUTH_FAILED when malformed. */
function claimOf(req: FastifyRequest): Claim | null {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^(\S+) +(\S+) *$/.exec(h);
    const scheme = m?.[1]?.toLowerCase();
    const value = m?.[2] ?? '';
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { kind: 'token', deviceId: decoded.slice(0, colon), secret: Buffer.from(decoded.slice(colon + 1)) };
    } else if (scheme === 'bearer') {
      const dot = value.lastIndexOf('.');
      if (dot > 0 && dot < value.length - 1) return { kind: 'token', deviceId: value.slice(0, dot), secret: Buffer.from(value.slice(dot + 1)) };
    }
    throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'malformed device credentials');
  }
  const cert = peerIdentity(req.socket as TLSSocket);
  return cert ? { kind: 'certificate', cert } : null;
}

export class DeviceAuth {
  readonly #deps: DeviceAuthDeps;
  readonly #bySocket = new WeakMap<Socket, Cached>();

  constructor(deps: DeviceAuthDeps) {
    this.#deps = deps;
  }

  /** The request's device context, or a PalisadeError (401, 403, 429) after recording why. */
  async contextOf(req: FastifyRequest): Promise<DeviceContext> {
    const source = sourceOf(req);
    const epoch = this.#deps.messaging.epoch;
    const cached = this.#bySocket.get(req.socket);
    if (cached !== undefined && cached.epoch === epoch && cached.header === req.headers.authorization) {
      this.#refuseBanned(cached.principal.id, source);
      return { principal: cached.principal, policy: cached.policy, source, protocol: 'http' };
    }
    let claim: Claim | null;
    try {
      claim = claimOf(req);
    } catch (err) {
      this.#deps.events.record('http.auth_failed', 'warning', { source, detail: { reason: 'malformed credentials' } });
      throw err;
    }
    if (claim === null) {
      this.#deps.events.record('http.unauthenticated', 'warning', { source, detail: { method: req.method, path: req.url.split('?')[0]?.slice(0, 256) } });
      throw new PalisadeError(ErrorCodes.AUTH_NO_CREDENTIALS, 'device credentials required (client certificate or device token)');
    }
    // Before any hashing: the claimed id is enough to refuse a banned device.
    this.#refuseBanned(claim.kind === 'certificate' ? claim.cert.deviceId : claim.deviceId, source);
    const principal = await this.#authenticate(req, source, claim);
    const policy = this.#deps.policy.compile(principal);
    this.#bySocket.set(req.socket, { epoch, header: req.headers.authorization, principal, policy });
    return { principal, policy, source, protocol: 'http' };
  }

  #refuseBanned(deviceId: string, source: string): void {
    if (this.#deps.isBanned?.(deviceId) !== true) return;
    this.#deps.events.record('http.banned', 'warning', { principal: deviceId, source });
    throw new PalisadeError(ErrorCodes.FORBIDDEN, 'banned');
  }

  async #authenticate(req: FastifyRequest, source: string, claim: Claim): Promise<DevicePrincipal> {
    const { throttle, events, authenticator } = this.#deps;
    const deviceId = claim.kind === 'certificate' ? claim.cert.deviceId : claim.deviceId;
    const keys = { address: req.socket.remoteAddress ?? 'unknown', username: deviceId, certSerial: claim.kind === 'certificate' ? claim.cert.serial : null };
    // Decided before any hashing or store work (issue 3 point 4).
    const verdict = throttle.check(keys);
    if (!verdict.allowed) {
      events.record('http.auth_throttled', 'warning', { principal: deviceId, source, detail: { key: verdict.key, retryAfterMs: verdict.retryAfterMs } });
      throw new PalisadeError(ErrorCodes.RATE_LIMITED, 'too many failed attempts; try again later', { detail: { retryAfterMs: verdict.retryAfterMs } });
    }
    try {
      const principal = await authenticator.authenticate({
        clientId: deviceId,
        username: claim.kind === 'token' ? claim.deviceId : null,
        password: claim.kind === 'token' ? claim.secret : null,
        certificate: claim.kind === 'certificate' ? claim.cert : null,
        anonymousSegment: null,
        clientIdMatch: 'exact',
      });
      throttle.success(keys);
      return principal;
    } catch (err) {
      const code = isPalisadeError(err) ? err.code : 'unknown';
      events.record('http.auth_failed', 'warning', { principal: deviceId, source, detail: { method: claim.kind, code } });
      if (FAILURES.has(code)) {
        const banned = throttle.failure(keys);
        if (banned.length > 0) events.record('http.auth_banned', 'warning', { principal: deviceId, source, detail: { keys: banned } });
      }
      // A revoked certificate or a disabled device is refused as not authenticated: nothing
      // about the device's state is told to whoever holds its credentials.
      if (isPalisadeError(err)) throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'device authentication failed', { cause: err });
      throw err;
    }
  }
}
