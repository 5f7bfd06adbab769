/** UNSUBSCRIBE (§3.10). */
import type { IUnsubscribePacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.ts';
import { RC } from '../reason-codes.ts';
import { unsubscribeQueue } from '../queue-consumer.ts';

export function handleUnsubscribe(conn: MqttConnection, p: IUnsubscribePacket): void {
  const session = conn.session;
  if (!session || p.messageId === undefined) return;
  const codes = p.unsubscriptions.map((filter) => (unsubscribeQueue(conn, filter) || conn.services.broker.unsubscribe(session, filter) ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED));
  // [MQTT-3.10.4-4] UNSUBACK even when nothing matched; v5 carries a code per filter.
  if (conn.version === 5) conn.send({ cmd: 'unsuback', messageId: p.messageId, granted: codes });
  else conn.send({ cmd: 'unsuback', messageId: p.messageId, granted: [] });
}
