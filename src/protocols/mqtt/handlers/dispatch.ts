/** One dispatch switch over packet types, one handler module per type (DESIGN.md §4.4). */
import type { Packet } from 'mqtt-packet';
import type { MqttConnection } from '../connection.ts';
import { RC } from '../reason-codes.ts';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.ts';
import { handleConnect } from './connect.ts';
import { handleDisconnect } from './disconnect.ts';
import { handlePublish } from './publish.ts';
import { handleSubscribe } from './subscribe.ts';
import { handleUnsubscribe } from './unsubscribe.ts';

export function dispatch(conn: MqttConnection, packet: Packet, frame: Buffer): void {
  switch (packet.cmd) {
    case 'connect':
      if (conn.connecting) {
        void handleConnect(conn, packet);
        return;
      }
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
      conn.fail(RC.PROTOCOL_ERROR, 'second CONNECT');
      return;
    case 'publish':
      handlePublish(conn, packet, frame);
      return;
    case 'puback':
      handlePuback(conn, packet);
      return;
    case 'pubrec':
      handlePubrec(conn, packet);
      return;
    case 'pubrel':
      handlePubrel(conn, packet);
      return;
    case 'pubcomp':
      handlePubcomp(conn, packet);
      return;
    case 'subscribe':
      handleSubscribe(conn, packet);
      return;
    case 'unsubscribe':
      handleUnsubscribe(conn, packet);
      return;
    case 'pingreq':
      conn.send({ cmd: 'pingresp' });
      return;
    case 'disconnect':
      handleDisconnect(conn, packet);
      return;
    case 'auth':
      // Enhanced authentication is not offered, so an AUTH packet is out of place (§4.12).
      conn.fail(RC.PROTOCOL_ERROR, 'unexpected AUTH');
      return;
    default:
      // Server-to-client packet types sent by a client.
      conn.fail(RC.PROTOCOL_ERROR, `unexpected ${packet.cmd}`);
  }
}
