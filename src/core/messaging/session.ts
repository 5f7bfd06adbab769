/**
 * One client session: its subscriptions, the messages queued for it, the QoS 1/2 messages in
 * flight to it, and the QoS 2 packet ids it has sent us and not yet released. The session
 * outlives its connection when it is persistent (session expiry > 0 / clean session 0).
 *
 * Flow control: at most `sink.sendQuota` QoS 1/2 messages are in flight (Receive Maximum,
 * MQTT 5 §4.9); the rest wait in a bounded queue. QoS 0 is never queued behind a slow or
 * absent connection: it is dropped and counted, which keeps memory bounded (§4.3.1 allows it).
 */
import type { Principal } from '../identity/principal.ts';
import type { MessageWrite, OutboundState, StoredMessage, SubscriptionRecord } from '../ports.ts';
import type { AppMessage, Delivery } from './message.ts';

export interface DeliverySink {
  sendPublish(delivery: Delivery, packetId: number | null, dup: boolean): void;
  sendPubrel(packetId: number): void;
  /** False while the transport is backpressured. */
  writable(): boolean;
  /** How many QoS 1/2 messages the client accepts unacknowledged. */
  readonly sendQuota: number;
  /** Ends the connection because the session was taken over or removed. */
  evict(reason: 'takeover' | 'administrative'): void;
}

export interface SessionHooks {
  persist(write: MessageWrite): void;
  dropped(session: Session, reason: 'queue-full' | 'qos0-offline' | 'qos0-backpressure' | 'expired', delivery: Delivery): void;
  sent(session: Session): void;
}

interface Outbound {
  seq: number;
  packetId: number | null;
  state: OutboundState;
  delivery: Delivery;
}

/**
 * A payload parsed off the socket is a view into the read buffer (tens of KiB). A message that
 * waits in a queue is copied out once, so a queue of small messages cannot pin large buffers.
 */
export function compact(m: AppMessage): void {
  if (m.payload.buffer.byteLength > m.payload.length + 1024) m.payload = Buffer.from(m.payload);
  if (!m.encodings) return;
  for (const [key, frame] of m.encodings) if (frame.buffer.byteLength > frame.length + 1024) m.encodings.set(key, Buffer.from(frame));
}

export class Session {
  readonly clientId: string;
  principal: Principal;
  protocolVersion: 3 | 4 | 5;
  expiryInterval: number;
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  readonly incomingQos2 = new Set<number>();
  readonly createdAt: number;
  sink: DeliverySink | null = null;
  disconnectedAt: number | null = null;

  readonly #hooks: SessionHooks;
  readonly #maxQueued: number;
  readonly #maxInflight: number;
  #queue: Outbound[] = [];
  #queueHead = 0;
  readonly #inflight = new Map<number, Outbound>();
  #nextPacketId = 1;
  #seq = 0;
  /** Packet ids held by deliveries made outside this session's queue (queue consumers, protocols/mqtt/queue-consumer.ts). */
  readonly externalPacketIds = new Set<number>();

  constructor(init: { clientId: string; principal: Principal; protocolVersion: 3 | 4 | 5; expiryInterval: number; createdAt?: number; maxQueued: number; maxInflight: number; hooks: SessionHooks }) {
    this.clientId = init.clientId;
    this.principal = init.principal;
    this.protocolVersion = init.protocolVersion;
    this.expiryInterval = init.expiryInterval;
    this.createdAt = init.createdAt ?? Date.now();
    this.#maxQueued = init.maxQueued;
    this.#maxInflight = init.maxInflight;
    this.#hooks = init.hooks;
  }

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  get queuedCount(): number {
    return this.#queue.length - this.#queueHead;
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** Restores messages loaded from the store after a restart. */
  restore(messages: readonly StoredMessage[], incomingQos2: readonly number[]): void {
    for (const m of messages) {
      this.#seq = Math.max(this.#seq, m.seq);
      const delivery: Delivery = {
        message: { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, properties: m.properties, expiresAt: m.expiresAt, origin: null },
        qos: m.qos,
        retain: m.retain,
        subscriptionIds: m.subscriptionIds,
      };
      const o: Outbound = { seq: m.seq, packetId: m.packetId, state: m.state, delivery };
      if (m.state !== 'queued' && m.packetId !== null) this.#inflight.set(m.packetId, o);
      else this.#queue.push({ ...o, state: 'queued', packetId: null });
    }
    for (const id of incomingQos2) this.incomingQos2.add(id);
  }

  deliver(delivery: Delivery): void {
    const sink = this.sink;
    if (delivery.qos === 0) {
      if (sink && sink.writable()) {
        sink.sendPublish(delivery, null, false);
        this.#hooks.sent(this);
      } else this.#hooks.dropped(this, sink ? 'qos0-backpressure' : 'qos0-offline', delivery);
      return;
    }
    const o: Outbound = { seq: ++this.#seq, packetId: null, state: 'queued', delivery };
    if (sink && this.queuedCount === 0 && this.#inflight.size < this.#quota(sink) && sink.writable()) {
      this.#send(sink, o);
      return;
    }
    if (this.queuedCount >= this.#maxQueued) {
      this.#hooks.dropped(this, 'queue-full', delivery);
      return;
    }
    compact(delivery.message);
    this.#queue.push(o);
    if (this.persistent) this.#hooks.persist({ kind: 'put', message: this.#toStored(o) });
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) received: the message is done. */
  complete(packetId: number): boolean {
    const o = this.#inflight.get(packetId);
    if (!o) return false;
    this.#inflight.delete(packetId);
    if (this.persistent) this.#hooks.persist({ kind: 'delete', clientId: this.clientId, seq: o.seq });
    this.pump();
    return true;
  }

  /** PUBREC received for a QoS 2 message: answer PUBREL and wait for PUBCOMP. */
  received(packetId: number): boolean {
    const o = this.#inflight.get(packetId);
    if (!o || o.delivery.qos !== 2) return false;
    o.state = 'pubrel';
    if (this.persistent) this.#hooks.persist({ kind: 'put', message: this.#toStored(o) });
    this.sink?.sendPubrel(packetId);
    return true;
  }

  /** PUBREC with an error reason (v5): the receiver refused the message, so it is done. */
  refused(packetId: number): void {
    this.complete(packetId);
  }

  /**
   * Binds a connection. On a resumed session, messages in flight are sent again first, in their
   * original order, with DUP set; PUBRELs are repeated [MQTT-4.4.0-1].
   */
  attach(sink: DeliverySink): void {
    this.sink = sink;
    this.disconnectedAt = null;
    const resend = [...this.#inflight.values()].sort((a, b) => a.seq - b.seq);
    for (const o of resend) {
      if (o.packetId === null) continue;
      if (o.state === 'pubrel') sink.sendPubrel(o.packetId);
      else sink.sendPublish(o.delivery, o.packetId, true);
    }
    this.pump();
  }

  detach(): void {
    this.sink = null;
    this.disconnectedAt = Date.now();
  }

  /** Moves queued messages into flight while the window and the transport allow. */
  pump(): void {
    const sink = this.sink;
    if (!sink) return;
    const quota = this.#quota(sink);
    while (this.#queueHead < this.#queue.length && this.#inflight.size < quota && sink.writable()) {
      const o = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined as unknown as Outbound;
      if (o.delivery.message.expiresAt !== null && o.delivery.message.expiresAt <= Date.now()) {
        if (this.persistent) this.#hooks.persist({ kind: 'delete', clientId: this.clientId, seq: o.seq });
        this.#hooks.dropped(this, 'expired', o.delivery);
        continue;
      }
      this.#send(sink, o);
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** Everything this session holds for the store, e.g. when it becomes persistent. */
  snapshot(): StoredMessage[] {
    const all = [...this.#inflight.values(), ...this.#queue.slice(this.#queueHead)];
    return all.map((o) => this.#toStored(o));
  }

  #quota(sink: DeliverySink): number {
    return Math.min(sink.sendQuota, this.#maxInflight);
  }

  #send(sink: DeliverySink, o: Outbound): void {
    // Held until acknowledged, so it must not pin a read buffer either.
    compact(o.delivery.message);
    o.packetId = this.#allocatePacketId();
    o.state = 'sent';
    this.#inflight.set(o.packetId, o);
    if (this.persistent) this.#hooks.persist({ kind: 'put', message: this.#toStored(o) });
    sink.sendPublish(o.delivery, o.packetId, false);
    this.#hooks.sent(this);
  }

  /** A packet id no message of this session uses; the caller deletes it from externalPacketIds when done. */
  allocateExternalPacketId(): number {
    const id = this.#allocatePacketId();
    this.externalPacketIds.add(id);
    return id;
  }

  #allocatePacketId(): number {
    // [MQTT-2.2.1-3] a packet id is reused only after its exchange completes; the window is far
    // below 65535, so this loop ends quickly.
    for (;;) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.#inflight.has(id) && !this.externalPacketIds.has(id)) return id;
    }
  }

  #toStored(o: Outbound): StoredMessage {
    const m: AppMessage = o.delivery.message;
    return {
      clientId: this.clientId,
      seq: o.seq,
      packetId: o.packetId,
      state: o.state,
      topic: m.topic,
      payload: m.payload,
      qos: o.delivery.qos,
      retain: o.delivery.retain,
      properties: m.properties,
      subscriptionIds: o.delivery.subscriptionIds,
      expiresAt: m.expiresAt,
    };
  }
}
