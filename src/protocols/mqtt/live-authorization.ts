/**
 * Applies policy and device changes to live MQTT connections (issue 3 points 6 and 7): a
 * connection whose principal may no longer connect is closed with Not authorized; otherwise it
 * keeps running under the new decisions and loses, at once, the subscriptions they no longer
 * allow. Each effect is a security event.
 */
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import { dropRevokedSubscriptions } from '../../core/messaging/reauthorize.ts';
import { Actions } from '../../core/policy/actions.ts';
import type { MqttConnection } from './connection.ts';
import { RC } from './reason-codes.ts';

/** Re-decides connect and every subscription of one connection under its current policy. */
export function reauthorizeConnection(conn: MqttConnection, cause: string): void {
  const policy = conn.policy;
  const session = conn.session;
  if (policy === null || session === null || conn.closed) return;
  const context = { source: conn.remoteAddress };
  const connect = policy.authorize(Actions.mqttConnect, conn.clientId, context);
  if (!connect.allowed) {
    conn.record('policy.session_closed', 'warning', { rule: connect.rule, cause });
    conn.fail(RC.NOT_AUTHORIZED, 'connect no longer allowed by policy');
    return;
  }
  for (const d of dropRevokedSubscriptions(conn.services.broker, session, policy, context)) {
    conn.record('policy.subscription_revoked', 'warning', { filter: d.filter, rule: d.decision.rule, cause });
  }
}

/**
 * Gives a device's live connections its new principal (re-compiled policy) and re-decides;
 * `next` null means the device is gone or disabled, and its connections are closed.
 */
export function updateDeviceConnections(connections: Iterable<MqttConnection>, deviceId: string, next: ((p: DevicePrincipal) => DevicePrincipal) | null, cause: string): number {
  let touched = 0;
  for (const conn of connections) {
    const current = conn.principal;
    if (current?.id !== deviceId || conn.closed || conn.policy === null) continue;
    touched++;
    if (next === null) {
      conn.record('device.session_closed', 'warning', { cause });
      conn.fail(RC.ADMINISTRATIVE_ACTION, `device ${cause}`);
      continue;
    }
    const principal = next(current);
    conn.principal = principal;
    if (conn.session) conn.session.principal = principal;
    conn.policy = conn.services.policy.compile(principal);
    if (principal.segment !== current.segment) conn.record('device.segment_changed', principal.quarantined === true ? 'critical' : 'info', { from: current.segment, to: principal.segment });
    reauthorizeConnection(conn, cause);
  }
  return touched;
}
