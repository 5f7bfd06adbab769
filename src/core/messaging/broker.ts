/**
 * The message router: sessions, subscriptions, retained messages, wills and session expiry.
 * Protocol-neutral: MQTT, and later HTTP and CoAP, publish into it and receive through a
 * DeliverySink. Authorisation happens before a call reaches it (DESIGN.md §1).
 */
import type { Principal } from '../identity/principal.ts';
import type { RetainedMessage, Store, SubscriptionRecord } from '../ports.ts';
import type { AppMessage, Delivery } from './message.ts';
import { Session, type DeliverySink, type SessionHooks } from './session.ts';
import { TopicTrie } from './topic-trie.ts';
import { parseTopicFilter, topicMatches, type ParsedFilter } from './topics.ts';
import { WriteBehind } from './write-behind.ts';

export interface BrokerOptions {
  store: Store;
  maxQueuedMessages: number;
  maxInflight: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  maxRetainedMessages: number;
  onStoreError: (err: unknown) => void;
  onDrop?: (session: Session, reason: string) => void;
  /** A message went out to the session's client (the anomaly detector's messages received). */
  onSent?: (session: Session) => void;
}

export interface WillMessage {
  message: AppMessage;
  delaySeconds: number;
}

interface Member {
  session: Session;
  sub: SubscriptionRecord;
}

type TrieEntry =
  | { kind: 'direct'; session: Session; sub: SubscriptionRecord }
  | { kind: 'shared'; members: Map<string, Member>; cursor: number };

export interface BrokerStats {
  messagesReceived: number;
  messagesSent: number;
  messagesDropped: number;
  publishDenied: number;
}

const NEVER = 0xffff_ffff;

export class Broker {
  readonly stats: BrokerStats = { messagesReceived: 0, messagesSent: 0, messagesDropped: 0, publishDenied: 0 };
  readonly #opts: BrokerOptions;
  readonly #store: Store;
  readonly #writes: WriteBehind;
  readonly #sessions = new Map<string, Session>();
  readonly #trie = new TopicTrie<TrieEntry>();
  readonly #retained = new Map<string, RetainedMessage>();
  readonly #wills = new Map<string, { timer: NodeJS.Timeout; will: WillMessage }>();
  readonly #expiry = new Map<string, NodeJS.Timeout>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #hooks: SessionHooks;

  constructor(opts: BrokerOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#writes = new WriteBehind(opts.store.messages, opts.onStoreError);
    this.#hooks = {
      persist: (w) => this.#writes.push(w),
      dropped: (s, reason) => {
        this.stats.messagesDropped++;
        opts.onDrop?.(s, reason);
      },
      sent: (s) => {
        this.stats.messagesSent++;
        opts.onSent?.(s);
      },
    };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get connectedCount(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.sink) n++;
    return n;
  }

  get subscriptionCount(): number {
    return this.#trie.size;
  }

  get retainedCount(): number {
    return this.#retained.size;
  }

  session(clientId: string): Session | undefined {
    return this.#sessions.get(clientId);
  }

  /** Loads persistent sessions and retained messages after a restart; drops expired ones. */
  async load(principalOf: (principalId: string) => Promise<Principal | null>): Promise<void> {
    const now = Date.now();
    for (const r of await this.#store.retained.list()) {
      if (r.expiresAt !== null && r.expiresAt <= now) await this.#store.retained.delete(r.topic);
      else this.#retained.set(r.topic, r);
    }
    for (const rec of await this.#store.sessions.list()) {
      const since = rec.disconnectedAt ?? now;
      const expired = rec.expiryInterval !== NEVER && since + rec.expiryInterval * 1000 <= now;
      const principal = expired ? null : await principalOf(rec.principalId);
      if (!principal) {
        await this.#store.sessions.delete(rec.clientId);
        continue;
      }
      const session = this.#newSession(rec.clientId, principal, rec.protocolVersion, rec.expiryInterval, rec.createdAt);
      session.restore(await this.#store.messages.listForSession(rec.clientId), await this.#store.messages.listIncomingQos2(rec.clientId));
      session.disconnectedAt = since;
      for (const sub of await this.#store.sessions.listSubscriptions(rec.clientId)) this.#addToTrie(session, sub);
      this.#sessions.set(rec.clientId, session);
      this.#scheduleExpiry(session);
    }
  }

  /**
   * Binds a connection to a session: a new one, or the existing one resumed. A live connection
   * holding the client id is evicted first [MQTT-3.1.4-3]; its will goes out as on any
   * ungraceful end, unless this connection resumes within the will delay [MQTT-3.1.3-9].
   */
  async connect(req: { clientId: string; principal: Principal; cleanStart: boolean; expiryInterval: number; protocolVersion: 3 | 4 | 5; sink: DeliverySink; will: WillMessage | null; onAccepted: (session: Session, sessionPresent: boolean) => void }): Promise<{ session: Session; sessionPresent: boolean }> {
    return this.#withLock(req.clientId, async () => {
      this.#cancelWill(req.clientId);
      this.#cancelExpiry(req.clientId);
      let session = this.#sessions.get(req.clientId);
      if (session?.sink) {
        const old = session.sink;
        session.detach();
        old.evict('takeover');
        // The old connection ended ungracefully; this connection is the reconnection that
        // cancels a delayed will, so only a will without delay goes out [MQTT-3.1.3-9].
        const oldWill = this.#pendingWills.get(req.clientId);
        if (oldWill && oldWill.delaySeconds === 0) this.publish(oldWill.message);
      }
      // A session never passes to another principal: the id space is per identity.
      const resume = !req.cleanStart && session !== undefined && session.principal.id === req.principal.id;
      if (session && !resume) {
        this.#discard(session);
        await this.#store.sessions.delete(req.clientId);
        session = undefined;
      }
      if (!session) {
        session = this.#newSession(req.clientId, req.principal, req.protocolVersion, req.expiryInterval);
        this.#sessions.set(req.clientId, session);
      } else {
        session.principal = req.principal;
        session.protocolVersion = req.protocolVersion;
        session.expiryInterval = req.expiryInterval;
      }
      if (session.persistent) {
        await this.#store.sessions.save({ clientId: session.clientId, principalId: session.principal.id, protocolVersion: session.protocolVersion, expiryInterval: session.expiryInterval, disconnectedAt: null, createdAt: session.createdAt });
      }
      this.#pendingWills.set(req.clientId, req.will);
      // The CONNACK must precede anything the resumed session resends [MQTT-3.2.0-1].
      req.onAccepted(session, resume);
      session.attach(req.sink);
      return { session, sessionPresent: resume };
    });
  }

  readonly #pendingWills = new Map<string, WillMessage | null>();

  /**
   * The connection bound to `session` ended. `publishWill` is false after a normal DISCONNECT.
   * `expiryInterval` lets a v5 DISCONNECT change the session expiry (§3.14.2.2.2).
   */
  disconnected(session: Session, sink: DeliverySink, opts: { publishWill: boolean; expiryInterval?: number }): void {
    if (session.sink !== sink) return;
    session.detach();
    if (opts.expiryInterval !== undefined) session.expiryInterval = opts.expiryInterval;
    const will = this.#pendingWills.get(session.clientId) ?? null;
    this.#pendingWills.delete(session.clientId);
    if (will && opts.publishWill) {
      const delay = Math.min(will.delaySeconds, session.expiryInterval);
      if (delay <= 0) this.publish(will.message);
      else {
        const timer = setTimeout(() => {
          this.#wills.delete(session.clientId);
          this.publish(will.message);
        }, delay * 1000);
        timer.unref();
        this.#wills.set(session.clientId, { timer, will });
      }
    }
    if (!session.persistent) {
      this.#discard(session);
      this.#sessions.delete(session.clientId);
      return;
    }
    void this.#store.sessions.save({ clientId: session.clientId, principalId: session.principal.id, protocolVersion: session.protocolVersion, expiryInterval: session.expiryInterval, disconnectedAt: session.disconnectedAt, createdAt: session.createdAt }).catch(this.#opts.onStoreError);
    this.#scheduleExpiry(session);
  }

  /** Whether a retained message on this topic fits under the cap (deletes always fit). */
  canRetain(topic: string): boolean {
    return this.#retained.has(topic) || this.#retained.size < this.#opts.maxRetainedMessages;
  }

  /** Routes a message to every matching subscription; updates retained state. */
  publish(message: AppMessage): void {
    this.stats.messagesReceived++;
    if (message.retain) this.#retain(message);
    const targets = new Map<Session, Delivery>();
    this.#trie.match(message.topic, (entry) => {
      if (entry.kind === 'direct') this.#collect(targets, entry.session, entry.sub, message);
      else {
        const m = this.#pickShared(entry);
        if (m) this.#collect(targets, m.session, m.sub, message);
      }
    });
    for (const [session, delivery] of targets) session.deliver(delivery);
  }

  /** Resolves when the stored effects of everything routed so far are committed. */
  persisted(): Promise<void> {
    return this.#writes.flushed();
  }

  /**
   * Adds a subscription, then delivers matching retained messages according to Retain Handling
   * [MQTT-3.3.1-9..11]; none for shared subscriptions. Call it after the SUBACK is written.
   */
  subscribe(session: Session, sub: SubscriptionRecord): void {
    const old = session.subscriptions.get(sub.filter);
    if (old) this.#removeFromTrie(session, old);
    const parsed = this.#addToTrie(session, sub);
    if (session.persistent) void this.#store.sessions.setSubscription(sub).catch(this.#opts.onStoreError);
    if (parsed.shareGroup !== null || sub.retainHandling === 2 || (sub.retainHandling === 1 && old !== undefined)) return;
    const now = Date.now();
    for (const r of this.#retained.values()) {
      if (!topicMatches(parsed.filter, r.topic)) continue;
      if (r.expiresAt !== null && r.expiresAt <= now) continue;
      const message: AppMessage = { topic: r.topic, payload: r.payload, qos: r.qos, retain: true, properties: r.properties, expiresAt: r.expiresAt, origin: null };
      session.deliver({ message, qos: Math.min(r.qos, sub.qos) as 0 | 1 | 2, retain: true, subscriptionIds: sub.subscriptionId === null ? [] : [sub.subscriptionId] });
    }
  }

  /** Every session, connected or not. */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  unsubscribe(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (!sub) return false;
    session.subscriptions.delete(filter);
    this.#removeFromTrie(session, sub);
    if (session.persistent) void this.#store.sessions.removeSubscription(session.clientId, filter).catch(this.#opts.onStoreError);
    return true;
  }

  /** Records that a QoS 2 packet id from the client is held until PUBREL. */
  holdIncomingQos2(session: Session, packetId: number, held: boolean): void {
    if (held) session.incomingQos2.add(packetId);
    else session.incomingQos2.delete(packetId);
    if (session.persistent) this.#writes.push({ kind: held ? 'qos2-in-add' : 'qos2-in-remove', clientId: session.clientId, packetId });
  }

  retainedMessages(): IterableIterator<RetainedMessage> {
    return this.#retained.values();
  }

  /** The retained message of one topic, if any and not expired (HTTP GET, CoAP GET). */
  retained(topic: string): RetainedMessage | null {
    const r = this.#retained.get(topic);
    return r === undefined || (r.expiresAt !== null && r.expiresAt <= Date.now()) ? null : r;
  }

  async close(): Promise<void> {
    for (const w of this.#wills.values()) clearTimeout(w.timer);
    for (const t of this.#expiry.values()) clearTimeout(t);
    this.#wills.clear();
    this.#expiry.clear();
    await this.#writes.flushed();
  }

  #newSession(clientId: string, principal: Principal, protocolVersion: 3 | 4 | 5, expiryInterval: number, createdAt?: number): Session {
    return new Session({ clientId, principal, protocolVersion, expiryInterval, maxQueued: this.#opts.maxQueuedMessages, maxInflight: this.#opts.maxInflight, hooks: this.#hooks, ...(createdAt === undefined ? {} : { createdAt }) });
  }

  #collect(targets: Map<Session, Delivery>, session: Session, sub: SubscriptionRecord, message: AppMessage): void {
    // [MQTT-3.8.3-3] No Local: not back to the publisher's own session.
    if (sub.noLocal && message.origin === session.clientId) return;
    const qos = Math.min(message.qos, sub.qos) as 0 | 1 | 2;
    // [MQTT-3.3.1-12/13] Retain As Published keeps the flag; otherwise forwarded copies clear it.
    const retain = sub.retainAsPublished ? message.retain : false;
    const existing = targets.get(session);
    if (!existing) {
      targets.set(session, { message, qos, retain, subscriptionIds: sub.subscriptionId === null ? [] : [sub.subscriptionId] });
      return;
    }
    // Overlapping subscriptions: one delivery at the highest QoS with every identifier [MQTT-3.3.4-3..5].
    if (qos > existing.qos) existing.qos = qos;
    existing.retain ||= retain;
    if (sub.subscriptionId !== null) existing.subscriptionIds.push(sub.subscriptionId);
  }

  #pickShared(entry: Extract<TrieEntry, { kind: 'shared' }>): Member | null {
    const members = [...entry.members.values()];
    if (members.length === 0) return null;
    // Round robin, preferring members with a live connection (§4.8.2).
    for (let i = 0; i < members.length; i++) {
      const m = members[(entry.cursor + i) % members.length]!;
      if (m.session.sink) {
        entry.cursor = (entry.cursor + i + 1) % members.length;
        return m;
      }
    }
    const m = members[entry.cursor % members.length]!;
    entry.cursor = (entry.cursor + 1) % members.length;
    return m;
  }

  /** Records the subscription on the session and in the trie; returns the parsed filter. */
  #addToTrie(session: Session, sub: SubscriptionRecord): ParsedFilter {
    session.subscriptions.set(sub.filter, sub);
    const parsed = parseTopicFilter(sub.filter, this.#opts);
    if (parsed.shareGroup === null) {
      this.#trie.add(parsed.filter, session.clientId, { kind: 'direct', session, sub });
      return parsed;
    }
    const key = `$share/${parsed.shareGroup}`;
    let group = this.#sharedGroups.get(`${key}/${parsed.filter}`);
    if (!group) {
      group = { kind: 'shared', members: new Map(), cursor: 0 };
      this.#sharedGroups.set(`${key}/${parsed.filter}`, group);
      this.#trie.add(parsed.filter, key, group);
    }
    if (group.kind === 'shared') group.members.set(session.clientId, { session, sub });
    return parsed;
  }

  readonly #sharedGroups = new Map<string, TrieEntry>();

  #removeFromTrie(session: Session, sub: SubscriptionRecord): void {
    const parsed = parseTopicFilter(sub.filter, this.#opts);
    if (parsed.shareGroup === null) {
      this.#trie.remove(parsed.filter, session.clientId);
      return;
    }
    const key = `$share/${parsed.shareGroup}`;
    const group = this.#sharedGroups.get(`${key}/${parsed.filter}`);
    if (group?.kind !== 'shared') return;
    group.members.delete(session.clientId);
    if (group.members.size === 0) {
      this.#sharedGroups.delete(`${key}/${parsed.filter}`);
      this.#trie.remove(parsed.filter, key);
    }
  }

  #discard(session: Session): void {
    for (const sub of session.subscriptions.values()) this.#removeFromTrie(session, sub);
    session.subscriptions.clear();
  }

  #retain(message: AppMessage): void {
    // [MQTT-3.3.1-10/11] an empty retained payload deletes the retained message.
    if (message.payload.length === 0) {
      if (this.#retained.delete(message.topic)) void this.#store.retained.delete(message.topic).catch(this.#opts.onStoreError);
      return;
    }
    if (!this.canRetain(message.topic)) return;
    // Kept indefinitely: never a view into a socket read buffer.
    const r: RetainedMessage = { topic: message.topic, payload: Buffer.from(message.payload), qos: message.qos, properties: message.properties, expiresAt: message.expiresAt, storedAt: Date.now() };
    this.#retained.set(message.topic, r);
    void this.#store.retained.set(r).catch(this.#opts.onStoreError);
  }

  #scheduleExpiry(session: Session): void {
    if (session.expiryInterval === NEVER) return;
    this.#cancelExpiry(session.clientId);
    const timer = setTimeout(() => {
      this.#expiry.delete(session.clientId);
      if (session.sink || this.#sessions.get(session.clientId) !== session) return;
      // The session ends: a will still waiting for its delay goes out now (§3.1.3.2.2).
      const pending = this.#wills.get(session.clientId);
      if (pending) {
        this.#cancelWill(session.clientId);
        this.publish(pending.will.message);
      }
      this.#discard(session);
      this.#sessions.delete(session.clientId);
      void this.#store.sessions.delete(session.clientId).catch(this.#opts.onStoreError);
    }, Math.min(session.expiryInterval * 1000, 2 ** 31 - 1));
    timer.unref();
    this.#expiry.set(session.clientId, timer);
  }

  #cancelExpiry(clientId: string): void {
    const t = this.#expiry.get(clientId);
    if (t) clearTimeout(t);
    this.#expiry.delete(clientId);
  }

  #cancelWill(clientId: string): void {
    const w = this.#wills.get(clientId);
    if (w) clearTimeout(w.timer);
    this.#wills.delete(clientId);
  }

  async #withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    this.#locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === run) this.#locks.delete(key);
    }
  }
}
