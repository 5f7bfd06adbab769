/** PUBLISH from a client (§3.3): alias, validate, authorise, route, acknowledge. */
import type { IPublishPacket } from 'mqtt-packet';
import type { AppMessage } from '../../../core/messaging/message.ts';
import { validateTopicName } from '../../../core/messaging/topics.ts';
import { Actions } from '../../../core/policy/actions.ts';
import type { MqttConnection } from '../connection.ts';
import { fromWire } from '../properties.ts';
import { RC } from '../reason-codes.ts';
import { handleGatewayPublish, isGatewayTopic } from '../gateway-topics.ts';

const NO_PROPERTIES: Readonly<Record<string, string | string[]>> = Object.freeze({});

export function handlePublish(conn: MqttConnection, p: IPublishPacket, frame: Buffer): void {
  const { services } = conn;
  const limits = services.limits;
  const session = conn.session;
  if (!session) return;
  const v5 = conn.version === 5;
  const packetId = p.messageId;
  if (p.qos > 0 && packetId === undefined) return conn.fail(RC.PROTOCOL_ERROR, 'missing packet id');

  const topic = resolveAlias(conn, p);
  if (topic === null) return;
  try {
    validateTopicName(topic, limits);
  } catch {
    return conn.fail(RC.TOPIC_NAME_INVALID, 'invalid topic name');
  }

  if (p.qos > 0) {
    // [MQTT-3.3.4-9] more unacknowledged QoS 1/2 publishes than our Receive Maximum.
    if (conn.unackedInbound >= limits.receiveMaximum && v5) return conn.fail(RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive maximum exceeded');
  }
  // [MQTT-4.3.3-10] a QoS 2 id still held: acknowledge again, never route twice.
  if (p.qos === 2 && session.incomingQos2.has(packetId!)) {
    conn.send({ cmd: 'pubrec', messageId: packetId! });
    return;
  }
  if (p.retain && !limits.retainAvailable) return conn.fail(RC.RETAIN_NOT_SUPPORTED, 'retain not supported');

  // $queue/, $shadow/, $command/: answered by the gateway, authorised by their own actions
  // (inspected first: their rate and content count like any other message).
  if (topic.startsWith('$') && isGatewayTopic(conn, topic)) {
    const inspected = inspectPublish(conn, p, topic, typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload);
    if (inspected === null) return;
    if (handleGatewayPublish(conn, p, topic, inspected.payload)) return;
  }

  const decision = conn.policy!.authorize(Actions.mqttPublish, topic, { source: conn.remoteAddress });
  if (!decision.allowed) {
    services.broker.stats.publishDenied++;
    conn.record('mqtt.publish_denied', 'warning', { topic, rule: decision.rule });
    return ackRefused(conn, p, RC.NOT_AUTHORIZED);
  }

  if (p.retain && p.payload.length > 0 && !services.broker.canRetain(topic)) {
    conn.record('mqtt.retained_quota', 'warning', { topic });
    return ackRefused(conn, p, RC.QUOTA_EXCEEDED);
  }

  const inspected = inspectPublish(conn, p, topic, typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload);
  if (inspected === null) return;
  const { payload, unwrapped } = inspected;

  const expiry = p.properties?.messageExpiryInterval;
  const message: AppMessage = {
    topic,
    payload,
    qos: p.qos,
    retain: p.retain,
    properties: v5 ? fromWire(p.properties) : {},
    expiresAt: expiry === undefined ? null : Date.now() + expiry * 1000,
    origin: conn.clientId,
  };
  // A PUBLISH without DUP, RETAIN, alias or properties is forwarded byte for byte to
  // subscribers of the same protocol version: no re-encoding on the hot path.
  if (!unwrapped && !p.retain && !p.dup && topic === p.topic && (!v5 || p.properties === undefined)) {
    message.encodings = new Map([[`${conn.version}${p.qos}00`, frame]]);
  }
  services.broker.publish(message);

  if (p.qos === 0) return;
  if (p.qos === 2) services.broker.holdIncomingQos2(session, packetId!, true);
  conn.unackedInbound++;
  const ack = (): void => {
    if (p.qos === 1) conn.unackedInbound--;
    conn.send({ cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: packetId! });
  };
  // Acknowledge only once what was routed to persistent sessions is on disk.
  void services.broker.persisted().then(ack);
}

/**
 * shield.inspect (DESIGN.md §1): rate limit, WAF, schema, replay. Returns the payload to route
 * (unwrapped from a replay envelope when it was one), or null when the message was refused or
 * dropped here — answered, throttled or disconnected as the verdict says.
 */
function inspectPublish(conn: MqttConnection, p: IPublishPacket, topic: string, payload: Buffer): { payload: Buffer; unwrapped: boolean } | null {
  const inspector = conn.services.inspector;
  if (!inspector || !conn.principal) return { payload, unwrapped: false };
  const v = inspector.inspect({ principal: conn.principal, protocol: 'mqtt', topic, payload, userProperties: p.properties?.userProperties ?? NO_PROPERTIES, source: conn.remote, deferrable: p.qos > 0 });
  if (!v.ok) {
    if (v.reason !== 'rate_limited') {
      ackRefused(conn, p, v.reason === 'replayed' ? RC.NOT_AUTHORIZED : RC.PAYLOAD_FORMAT_INVALID);
      return null;
    }
    // Over the limit for too long: 0x96 (3.1.1 has no reason codes: the connection just ends).
    if (v.sustained) {
      conn.fail(RC.MESSAGE_RATE_TOO_HIGH, 'message rate too high');
      return null;
    }
    // QoS 0 over the limit is dropped, and the client is not read for a while.
    conn.services.broker.stats.messagesDropped++;
    conn.throttle(v.retryAfterMs);
    return null;
  }
  if (v.throttleMs !== undefined) conn.throttle(v.throttleMs);
  return v.payload === undefined ? { payload, unwrapped: false } : { payload: v.payload, unwrapped: true };
}

/**
 * Acknowledges a publish that was not routed. v5 says why in the ack; 3.1.1 has no way to, so
 * its ack is the normal one and the message is dropped (the security event says why).
 */
function ackRefused(conn: MqttConnection, p: IPublishPacket, reasonCode: number): void {
  if (p.qos === 0) return;
  const cmd = p.qos === 1 ? 'puback' : 'pubrec';
  conn.send(conn.version === 5 ? { cmd, messageId: p.messageId!, reasonCode } : { cmd, messageId: p.messageId! });
}

function resolveAlias(conn: MqttConnection, p: IPublishPacket): string | null {
  const alias = p.properties?.topicAlias;
  if (alias === undefined) {
    if (p.topic.length === 0) {
      conn.fail(RC.PROTOCOL_ERROR, 'empty topic without alias');
      return null;
    }
    return p.topic;
  }
  // [MQTT-3.3.2-9/10] an alias of 0 or above our Topic Alias Maximum.
  if (alias === 0 || alias > conn.services.limits.topicAliasMaximum) {
    conn.fail(RC.TOPIC_ALIAS_INVALID, 'topic alias out of range');
    return null;
  }
  if (p.topic.length > 0) {
    conn.inboundAliases.set(alias, p.topic);
    return p.topic;
  }
  const topic = conn.inboundAliases.get(alias);
  if (topic === undefined) {
    conn.fail(RC.PROTOCOL_ERROR, 'unknown topic alias');
    return null;
  }
  return topic;
}
