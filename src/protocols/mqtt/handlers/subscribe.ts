/** SUBSCRIBE (§3.8): validate each filter, authorise it, SUBACK, then retained messages. */
import type { ISubscribePacket } from 'mqtt-packet';
import { parseTopicFilter } from '../../../core/messaging/topics.ts';
import { Actions } from '../../../core/policy/actions.ts';
import type { SubscriptionRecord } from '../../../core/ports.ts';
import type { MqttConnection } from '../connection.ts';
import { RC } from '../reason-codes.ts';
import { authorizeGatewayFilter } from '../gateway-topics.ts';
import { queueNameOf, subscribeQueue } from '../queue-consumer.ts';

/** 3.1.1 has one failure code for every refusal (§3.9.3). */
const V3_FAILURE = 0x80;

export function handleSubscribe(conn: MqttConnection, p: ISubscribePacket): void {
  const session = conn.session;
  if (!session || p.messageId === undefined) return;
  const v5 = conn.version === 5;
  const subscriptionId = v5 ? p.properties?.subscriptionIdentifier ?? null : null;
  // [MQTT-3.8.2-?] a Subscription Identifier of 0 is a protocol error (§3.8.2.1.2).
  if (subscriptionId === 0) return conn.fail(RC.PROTOCOL_ERROR, 'subscription identifier 0');
  if (p.subscriptions.length === 0) return conn.fail(RC.PROTOCOL_ERROR, 'SUBSCRIBE without filters');

  const granted: number[] = [];
  const accepted: SubscriptionRecord[] = [];
  for (const s of p.subscriptions) {
    let parsed;
    try {
      parsed = parseTopicFilter(s.topic, conn.services.limits);
    } catch {
      conn.record('mqtt.subscribe_invalid', 'warning', { filter: s.topic });
      granted.push(v5 ? RC.TOPIC_FILTER_INVALID : V3_FAILURE);
      continue;
    }
    // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
    if (parsed.shareGroup !== null && s.nl === true) return conn.fail(RC.PROTOCOL_ERROR, 'no local on shared subscription');
    const queueName = conn.services.queues ? queueNameOf(parsed.filter) : null;
    if (queueName !== null) {
      // A queue consumer (queue-consumer.ts): competing delivery, QoS 1, PUBACK = ack.
      granted.push(subscribeQueue(conn, conn.services.queues!, s.topic, queueName, subscriptionId));
      continue;
    }
    const decision = authorizeGatewayFilter(conn, parsed.filter) ?? conn.policy!.authorize(Actions.mqttSubscribe, parsed.filter, { source: conn.remoteAddress });
    if (!decision.allowed) {
      conn.record('mqtt.subscribe_denied', 'warning', { filter: s.topic, rule: decision.rule });
      granted.push(v5 ? RC.NOT_AUTHORIZED : V3_FAILURE);
      continue;
    }
    const held = session.subscriptions.size + accepted.length;
    if (held >= conn.services.limits.maxSubscriptionsPerSession && !session.subscriptions.has(s.topic)) {
      conn.record('mqtt.subscription_quota', 'warning', { filter: s.topic, held });
      granted.push(v5 ? RC.QUOTA_EXCEEDED : V3_FAILURE);
      continue;
    }
    const qos = Math.min(s.qos, 2) as 0 | 1 | 2;
    granted.push(qos);
    accepted.push({
      clientId: session.clientId,
      filter: s.topic,
      qos,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
      retainHandling: v5 ? ((s.rh ?? 0) as 0 | 1 | 2) : 0,
      subscriptionId,
    });
  }
  conn.send({ cmd: 'suback', messageId: p.messageId, granted });
  for (const sub of accepted) conn.services.broker.subscribe(session, sub);
}
