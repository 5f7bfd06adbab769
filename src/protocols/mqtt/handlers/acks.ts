/** PUBACK, PUBREC, PUBREL and PUBCOMP: the QoS 1 and QoS 2 exchanges (§4.3). */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.ts';
import { RC } from '../reason-codes.ts';
import { queuePuback } from '../queue-consumer.ts';

export function handlePuback(conn: MqttConnection, p: IPubackPacket): void {
  if (p.messageId === undefined || queuePuback(conn, p.messageId, p.reasonCode ?? 0)) return;
  conn.session?.complete(p.messageId);
}

export function handlePubrec(conn: MqttConnection, p: IPubrecPacket): void {
  const session = conn.session;
  if (!session || p.messageId === undefined) return;
  // v5: a PUBREC reason >= 0x80 ends the exchange without PUBREL (§4.3.3).
  if ((p.reasonCode ?? 0) >= 0x80) {
    session.refused(p.messageId);
    return;
  }
  if (!session.received(p.messageId)) conn.sendPubrel(p.messageId);
}

export function handlePubrel(conn: MqttConnection, p: IPubrelPacket): void {
  const session = conn.session;
  if (!session || p.messageId === undefined) return;
  const known = session.incomingQos2.has(p.messageId);
  if (known) {
    conn.services.broker.holdIncomingQos2(session, p.messageId, false);
    conn.unackedInbound = Math.max(0, conn.unackedInbound - 1);
  }
  // [MQTT-4.3.3-11] PUBCOMP for an unknown id says so in v5 (0x92) and is still sent.
  const reasonCode = known ? RC.SUCCESS : RC.PACKET_ID_NOT_FOUND;
  const persisted = conn.services.broker.persisted();
  void persisted.then(() => conn.send(conn.version === 5 ? { cmd: 'pubcomp', messageId: p.messageId, reasonCode } : { cmd: 'pubcomp', messageId: p.messageId }));
}

export function handlePubcomp(conn: MqttConnection, p: IPubcompPacket): void {
  if (p.messageId !== undefined) conn.session?.complete(p.messageId);
}
