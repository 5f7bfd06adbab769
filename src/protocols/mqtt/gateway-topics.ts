/**
 * Topics the gateway answers itself instead of routing (issue 4, points 4 and 5):
 * - `$queue/<name>`: PUBLISH pushes into the queue (authorised by queue:push), acknowledged once
 *   stored; a full queue is v5 PUBACK 0x97 (Quota exceeded). 3.1.1 has no way to say so: the
 *   connection is closed without an ack, so the client keeps the message and sends it again.
 * - `$shadow/<device>/update|get|delete`: the device shadow (authorised by shadow:update|get|delete on
 *   the device id). Replies go to `.../accepted|rejected` and `$shadow/<device>/update/delta`
 *   through the router, so every subscriber allowed to read the shadow sees them (as in AWS IoT);
 *   a request refused by policy is answered on the requester's own session only.
 * - `$command/<device>/<name>/reply` (MQTT 5, correlation data) and
 *   `$command/<device>/<name>/<correlation-id>/reply` (3.1.1): a device's reply to a command.
 * Subscriptions: `$shadow/<id>/...` is authorised as shadow:get on the id, `$command/<id>/...`
 * only for the device `<id>` itself; queue filters are handled by queue-consumer.ts.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { ErrorCodes, isPalisadeError } from '../../core/errors.ts';
import type { Broker } from '../../core/messaging/broker.ts';
import type { AppMessage } from '../../core/messaging/message.ts';
import { topicMatches } from '../../core/messaging/topics.ts';
import { COMMAND_TOPIC_PREFIX, SHADOW_TOPIC_PREFIX, gatewayFilterDecision } from '../../core/messaging/gateway-filters.ts';
import type { CommandService, CommandTransport } from '../../core/commands/service.ts';
import { commandOnWire } from '../../core/commands/wire.ts';
import type { Decision } from '../../core/policy/types.ts';
import type { ShadowService, ShadowUpdateResult } from '../../core/shadows/service.ts';
import type { MqttConnection } from './connection.ts';
import { fromWire } from './properties.ts';
import { QUEUE_PREFIX } from './queue-consumer.ts';
import { RC } from './reason-codes.ts';

const SHADOW = SHADOW_TOPIC_PREFIX;
const COMMAND = COMMAND_TOPIC_PREFIX;
/** v5 PUBACK 0x10: accepted, nobody was waiting for it (a late or unknown command reply). */
const NO_MATCHING_SUBSCRIBERS = 0x10;

/** True when the topic is the gateway's own and this PUBLISH has been handled. */
/** Whether handleGatewayPublish answers this topic (the feature behind its prefix is on). */
export function isGatewayTopic(conn: MqttConnection, topic: string): boolean {
  const { queues, shadows, commands } = conn.services;
  return (queues !== undefined && topic.startsWith(QUEUE_PREFIX)) || (shadows !== undefined && topic.startsWith(SHADOW)) || (commands !== undefined && topic.startsWith(COMMAND));
}

export function handleGatewayPublish(conn: MqttConnection, p: IPublishPacket, topic: string, payload: Buffer): boolean {
  const { queues, shadows, commands } = conn.services;
  if (queues && topic.startsWith(QUEUE_PREFIX)) {
    const name = topic.slice(QUEUE_PREFIX.length);
    const properties = conn.version === 5 ? fromWire(p.properties) : {};
    settle(conn, p, queues.push({ principal: conn.principal?.id ?? null, source: conn.remote, policy: conn.policy }, name, Buffer.from(payload), properties).then(() => RC.SUCCESS));
    return true;
  }
  if (shadows && topic.startsWith(SHADOW)) {
    settle(conn, p, shadowRequest(conn, shadows, topic, payload));
    return true;
  }
  if (commands && topic.startsWith(COMMAND)) {
    settle(conn, p, Promise.resolve(commandReply(conn, commands, topic, p, payload)));
    return true;
  }
  return false;
}

/** Authorisation of a subscription to a gateway topic; null when the filter is not one (or the feature is off). */
export function authorizeGatewayFilter(conn: MqttConnection, filter: string): Decision | null {
  if (!conn.services.shadows && filter.startsWith(SHADOW)) return null;
  if (!conn.services.commands && filter.startsWith(COMMAND)) return null;
  return gatewayFilterDecision(conn.policy!, conn.principal?.id ?? '', filter, { source: conn.remoteAddress });
}

/** Publishes `update/accepted` and `update/delta` for every accepted update, whichever protocol made it. */
export function publishShadowUpdates(shadows: ShadowService, broker: Broker): () => void {
  return shadows.onUpdate((deviceId, r: ShadowUpdateResult) => {
    broker.publish(json(`${SHADOW}${deviceId}/update/accepted`, r.accepted));
    if (r.delta) broker.publish(json(`${SHADOW}${deviceId}/update/delta`, r.delta));
  });
}

/**
 * Delivers commands to the device's connected sessions subscribed to them: MQTT 5 on
 * `$command/<device>/<name>` with a response topic and correlation data, 3.1.1 on
 * `$command/<device>/<name>/<correlation-id>`.
 */
export function mqttCommandTransport(broker: Broker): CommandTransport {
  return {
    deliver(cmd) {
      let delivered = 0;
      for (const s of broker.sessions()) {
        if (s.principal.id !== cmd.deviceId || s.sink === null) continue;
        const v5 = s.protocolVersion === 5;
        const base = `${COMMAND}${cmd.deviceId}/${cmd.name}`;
        const topic = v5 ? base : `${base}/${cmd.correlationId}`;
        const sub = [...s.subscriptions.values()].find((x) => topicMatches(x.filter, topic));
        if (!sub) continue;
        // The replay counter (issue 5, point 5): a user property on v5, the envelope on 3.1.1.
        const wire = commandOnWire(cmd, v5);
        const stamped = wire.userProperties.length > 0 ? { userProperties: wire.userProperties } : {};
        const properties = v5 ? { responseTopic: `${base}/reply`, correlationData: Buffer.from(cmd.correlationId).toString('base64'), ...stamped } : {};
        const message: AppMessage = { topic, payload: wire.payload, qos: 1, retain: false, properties, expiresAt: null, origin: null };
        s.deliver({ message, qos: Math.min(1, sub.qos) as 0 | 1, retain: false, subscriptionIds: sub.subscriptionId === null ? [] : [sub.subscriptionId] });
        delivered++;
      }
      return delivered > 0;
    },
  };
}

function json(topic: string, body: unknown): AppMessage {
  return { topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, properties: { contentType: 'application/json' }, expiresAt: null, origin: null };
}

/** Acknowledges once the work is done: v5 with the reason code; a refused 3.1.1 QoS>0 push closes the connection. */
function settle(conn: MqttConnection, p: IPublishPacket, work: Promise<number>): void {
  const session = conn.session!;
  const packetId = p.messageId;
  if (p.qos === 2) conn.services.broker.holdIncomingQos2(session, packetId!, true);
  if (p.qos > 0) conn.unackedInbound++;
  void work
    .catch((err: unknown) => reasonFor(err))
    .then((reasonCode) => {
      if (p.qos === 0 || conn.closed) return;
      conn.unackedInbound = Math.max(0, conn.unackedInbound - 1);
      if (reasonCode === RC.QUOTA_EXCEEDED && conn.version !== 5) {
        conn.fail(RC.QUOTA_EXCEEDED, 'queue full');
        return;
      }
      const cmd = p.qos === 1 ? 'puback' : 'pubrec';
      conn.send(conn.version === 5 && reasonCode !== RC.SUCCESS ? { cmd, messageId: packetId!, reasonCode } : { cmd, messageId: packetId! });
    });
}

function reasonFor(err: unknown): number {
  if (!isPalisadeError(err)) return RC.UNSPECIFIED_ERROR;
  switch (err.code) {
    case ErrorCodes.QUEUE_FULL:
      return RC.QUOTA_EXCEEDED;
    case ErrorCodes.POLICY_DENIED:
      return RC.NOT_AUTHORIZED;
    case ErrorCodes.INVALID_ARGUMENT:
      return RC.TOPIC_NAME_INVALID;
    default:
      return RC.UNSPECIFIED_ERROR;
  }
}

async function shadowRequest(conn: MqttConnection, shadows: ShadowService, topic: string, payload: Buffer): Promise<number> {
  const [deviceId = '', op = '', ...rest] = topic.slice(SHADOW.length).split('/');
  const caller = { principal: conn.principal?.id ?? null, source: conn.remote, policy: conn.policy };
  if (rest.length > 0 || (op !== 'update' && op !== 'get' && op !== 'delete')) {
    // accepted/rejected/delta are the gateway's to publish: a device may not forge them.
    conn.record('shadow.reserved_topic', 'warning', { topic });
    return RC.NOT_AUTHORIZED;
  }
  const base = `${SHADOW}${deviceId}/${op}`;
  let clientToken: unknown;
  try {
    if (op === 'update') {
      const body = parseJson(payload);
      clientToken = (body as { clientToken?: unknown } | null)?.clientToken;
      await shadows.update(caller, deviceId, body);
    } else if (op === 'get') {
      conn.services.broker.publish(json(`${base}/accepted`, await shadows.get(caller, deviceId)));
    } else {
      const existed = await shadows.delete(caller, deviceId);
      conn.services.broker.publish(json(existed ? `${base}/accepted` : `${base}/rejected`, existed ? { timestamp: Math.floor(Date.now() / 1000) } : { code: 404, message: 'no shadow' }));
    }
    return RC.SUCCESS;
  } catch (err) {
    const rejected = json(`${base}/rejected`, { code: httpLike(err), message: isPalisadeError(err) ? err.message : 'internal error', ...(typeof clientToken === 'string' ? { clientToken } : {}), timestamp: Math.floor(Date.now() / 1000) });
    // Refused by policy: the answer goes to the requester alone, never into another device's topics.
    if (isPalisadeError(err, ErrorCodes.POLICY_DENIED)) conn.session?.deliver({ message: rejected, qos: 1, retain: false, subscriptionIds: [] });
    else conn.services.broker.publish(rejected);
    return isPalisadeError(err, ErrorCodes.POLICY_DENIED) ? RC.NOT_AUTHORIZED : RC.SUCCESS;
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

function httpLike(err: unknown): number {
  if (!isPalisadeError(err)) return 500;
  switch (err.code) {
    case ErrorCodes.INVALID_ARGUMENT:
      return 400;
    case ErrorCodes.POLICY_DENIED:
      return 403;
    case ErrorCodes.NOT_FOUND:
      return 404;
    case ErrorCodes.VERSION_CONFLICT:
      return 409;
    case ErrorCodes.PACKET_TOO_LARGE:
      return 413;
    default:
      return 500;
  }
}

function commandReply(conn: MqttConnection, commands: CommandService, topic: string, p: IPublishPacket, payload: Buffer): number {
  const levels = topic.slice(COMMAND.length).split('/');
  const deviceId = levels[0] ?? '';
  if (deviceId !== conn.principal?.id || levels.at(-1) !== 'reply' || (levels.length !== 3 && levels.length !== 4)) {
    conn.record('command.reply_denied', 'warning', { topic });
    return RC.NOT_AUTHORIZED;
  }
  // 3.1.1: the correlation id is a topic level; MQTT 5: the Correlation Data property.
  const correlation = levels.length === 4 ? levels[2]! : (p.properties?.correlationData?.toString('utf8') ?? '');
  return commands.reply(deviceId, correlation, Buffer.from(payload)) ? RC.SUCCESS : NO_MATCHING_SUBSCRIBERS;
}
