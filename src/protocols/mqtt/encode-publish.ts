/**
 * Encodes outgoing PUBLISH packets. A message fanned out to many subscribers is serialised
 * once per variant (protocol version, QoS, retain, DUP) and cached on the message; QoS 1/2
 * copies only patch the packet identifier. Per-subscriber variants (subscription identifiers,
 * topic aliases, remaining expiry) are encoded individually.
 */
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import type { Delivery } from '../../core/messaging/message.ts';
import { bodyStart } from './framer.ts';
import { hasProperties, toWire, type PublishWireProperties } from './properties.ts';

export interface PublishTarget {
  readonly version: 3 | 4 | 5;
  readonly clientMaxPacketSize: number;
  readonly clientTopicAliasMaximum: number;
  readonly outboundAliases: Map<string, number>;
}

/** Returns the frame, or null when the message must be dropped for this client. */
export function encodePublish(target: PublishTarget, d: Delivery, packetId: number | null, dup: boolean): Buffer | null {
  const m = d.message;
  let remainingExpiry: number | null = null;
  if (m.expiresAt !== null) {
    const left = Math.ceil((m.expiresAt - Date.now()) / 1000);
    // [MQTT-3.3.2-5] an expired message is not delivered.
    if (left <= 0) return null;
    remainingExpiry = left;
  }
  const v5 = target.version === 5;
  const perClient = v5 && (remainingExpiry !== null || d.subscriptionIds.length > 0 || target.clientTopicAliasMaximum > 0);
  if (!perClient) {
    const key = `${target.version}${d.qos}${d.retain ? 1 : 0}${dup ? 1 : 0}`;
    let cached = m.encodings?.get(key);
    if (!cached) {
      cached = generate(target, d, packetId, dup, v5 && hasProperties(m.properties) ? toWire(m.properties) : undefined, m.topic);
      (m.encodings ??= new Map()).set(key, cached);
      return fits(target, cached) ? cached : null;
    }
    if (!fits(target, cached)) return null;
    if (packetId === null) return cached;
    const copy = Buffer.from(cached);
    copy.writeUInt16BE(packetId, packetIdOffset(copy));
    return copy;
  }
  const props: PublishWireProperties = toWire(m.properties);
  // [MQTT-3.3.2-6] the expiry sent is what is left of it.
  if (remainingExpiry !== null) props.messageExpiryInterval = remainingExpiry;
  if (d.subscriptionIds.length > 0) props.subscriptionIdentifier = d.subscriptionIds.length === 1 ? d.subscriptionIds[0]! : d.subscriptionIds;
  let topic = m.topic;
  let newAlias: number | null = null;
  if (target.clientTopicAliasMaximum > 0) {
    const alias = target.outboundAliases.get(topic);
    if (alias !== undefined) {
      props.topicAlias = alias;
      topic = '';
    } else if (target.outboundAliases.size < target.clientTopicAliasMaximum) {
      // [MQTT-3.3.2-8] a new alias is sent with its topic, then the topic may be left empty.
      newAlias = target.outboundAliases.size + 1;
      props.topicAlias = newAlias;
    }
  }
  const frame = generate(target, d, packetId, dup, props, topic);
  if (!fits(target, frame)) return null;
  // Only an alias the client actually received may be used later.
  if (newAlias !== null) target.outboundAliases.set(m.topic, newAlias);
  return frame;
}

function generate(target: PublishTarget, d: Delivery, packetId: number | null, dup: boolean, properties: PublishWireProperties | undefined, topic: string): Buffer {
  const packet: IPublishPacket = { cmd: 'publish', topic, payload: d.message.payload, qos: d.qos, retain: d.retain, dup };
  if (packetId !== null) packet.messageId = packetId;
  if (properties && Object.keys(properties).length > 0) packet.properties = properties;
  return mqttPacket.generate(packet, { protocolVersion: target.version });
}

function fits(target: PublishTarget, frame: Buffer): boolean {
  return frame.length <= target.clientMaxPacketSize;
}

function packetIdOffset(frame: Buffer): number {
  const pos = bodyStart(frame);
  return pos + 2 + frame.readUInt16BE(pos);
}
