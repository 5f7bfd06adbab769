/** DISCONNECT from the client (§3.14). */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.ts';
import { RC } from '../reason-codes.ts';

export function handleDisconnect(conn: MqttConnection, p: IDisconnectPacket): void {
  const session = conn.session;
  const requested = p.properties?.sessionExpiryInterval;
  if (requested !== undefined && session && session.expiryInterval === 0 && requested !== 0) {
    // [MQTT-3.14.2-2] a session that was to end on disconnect cannot be extended here.
    conn.fail(RC.PROTOCOL_ERROR, 'session expiry set on DISCONNECT after 0 at CONNECT');
    return;
  }
  const intent: { publishWill: boolean; expiryInterval?: number } = { publishWill: (p.reasonCode ?? 0) === RC.DISCONNECT_WITH_WILL };
  if (requested !== undefined) intent.expiryInterval = Math.min(requested, conn.services.limits.maxSessionExpiry);
  conn.closeIntent = intent;
  conn.close();
}
