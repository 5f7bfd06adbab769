/**
 * Which security events count towards which metric. The event log already records every
 * refusal and connection with the device as principal, so the detector reads it instead of
 * asking every protocol adapter for another hook.
 */
import type { SecurityEventInput } from '../../core/ports.ts';

export type EventMetric = 'authorizationFailures' | 'authenticationFailures' | 'connectionAttempts' | 'disconnects';

/** Refused logins: the principal is at most a claimed name (username or client id). */
const AUTHENTICATION_FAILURES = new Set(['mqtt.connect_refused', 'http.auth_failed', 'dtls.handshake_failed', 'coap.session_refused', 'auth.throttled']);
/** Policy refusals that are something the device itself asked for. */
const AUTHORIZATION_FAILURES = new Set([
  'mqtt.publish_denied',
  'mqtt.subscribe_denied',
  'http.request_denied',
  'coap.request_denied',
  'http.publish_denied',
  'http.subscribe_denied',
  'http.retained_denied',
  'coap.publish_denied',
  'coap.subscribe_denied',
  'coap.retained_denied',
  'queue.pull_denied',
  'command.reply_denied',
]);

export interface ClassifiedEvent {
  metrics: EventMetric[];
  /** The device (or, for authentication failures, the claimed name). */
  deviceId: string;
  /** True when the gateway authenticated the principal (safe for quarantine and revocation). */
  authenticated: boolean;
}

export function classifyEvent(e: SecurityEventInput): ClassifiedEvent | null {
  const t = e.type;
  const p = e.principal;
  if (t === 'mqtt.connected') return p ? { metrics: ['connectionAttempts'], deviceId: p, authenticated: true } : null;
  if (t === 'mqtt.disconnect') return p ? { metrics: ['disconnects'], deviceId: p, authenticated: true } : null;
  // A refused CONNECT after authentication (policy said no) is an authorization failure.
  if (t === 'mqtt.connect_refused' && p) return { metrics: ['connectionAttempts', 'authorizationFailures'], deviceId: p, authenticated: true };
  if (AUTHORIZATION_FAILURES.has(t) || (t.endsWith('_denied') && (t.startsWith('http.') || t.startsWith('coap.')) && !t.endsWith('receive_denied'))) {
    return p ? { metrics: ['authorizationFailures'], deviceId: p, authenticated: true } : null;
  }
  if (AUTHENTICATION_FAILURES.has(t)) {
    const claimed = p ?? str(e.detail.username) ?? str(e.detail.clientId);
    if (!claimed) return null;
    // Only this metric: anyone can claim a name, so a claimed name's failures must not move the
    // real device's other metrics (and behaviours on this one may not quarantine or revoke).
    return { metrics: ['authenticationFailures'], deviceId: claimed, authenticated: false };
  }
  return null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null;
}
