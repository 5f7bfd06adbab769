/**
 * The protocol-neutral messaging facade (issue 4): what HTTP and CoAP devices call to publish,
 * read retained messages and subscribe. It walks the same pipeline as an MQTT PUBLISH or
 * SUBSCRIBE (protocols/mqtt/handlers/publish.ts, subscribe.ts): validate the topic, authorise the
 * broker's verbs on it (`mqtt:publish`, `mqtt:subscribe`, each delivery `mqtt:receive`), route
 * through the one Broker, and record every refusal as a security event. So a device allowed to
 * publish `hvac/+/telemetry` over MQTT gets the same answer over HTTP and CoAP by construction.
 *
 * A subscription is a non-persistent broker Session (client id `<protocol>:<device>:<random>`)
 * bound to a DeliverySink adapter, removed when it ends. It follows the principal's rights like
 * a live MQTT connection does (protocols/mqtt/live-authorization.ts): re-checked when policies
 * change (engine.onChange) or the device changes (updateDevice), closed when its certificate is
 * revoked (closeByCertificate).
 *
 * Refusals throw PalisadeError; the protocol edge maps the code (HTTP status, CoAP 4.xx).
 */
import { refusalError, type MessageInspector } from './inspection.ts';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import type { DevicePrincipal } from '../identity/principal.ts';
import { Actions, type Action } from '../policy/actions.ts';
import type { CompiledPolicy, Decision, DynamicPolicyEngine, PolicyEngine } from '../policy/types.ts';
import type { MessageProperties, RetainedMessage } from '../ports.ts';
import type { Broker } from './broker.ts';
import type { AppMessage, Delivery } from './message.ts';
import type { DeliverySink, Session } from './session.ts';
import { parseTopicFilter, validateTopicName } from './topics.ts';

export interface DeviceContext {
  principal: DevicePrincipal;
  policy: CompiledPolicy;
  /** Remote address (with port), for `sourceCidr` conditions and events. */
  source: string;
  protocol: 'http' | 'coap';
}

export interface DeviceMessagingLimits {
  maxTopicLength: number;
  maxTopicLevels: number;
  /** Largest payload accepted by publish, bytes. */
  maxPayloadSize: number;
  retainAvailable: boolean;
  /** Live subscriptions one device may hold through this facade (all protocols together). */
  maxSubscriptionsPerDevice: number;
}

export interface DeviceMessagingDeps {
  broker: Broker;
  /** A DynamicPolicyEngine is followed: its changes re-check every live subscription. */
  policy: PolicyEngine | DynamicPolicyEngine;
  events: EventLog;
  limits: DeviceMessagingLimits;
  /** shield.inspect; absent: nothing is inspected. */
  inspector?: MessageInspector;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
  properties?: MessageProperties;
  /** Message expiry interval, seconds (MQTT 5 §3.3.2.3.3). */
  expirySeconds?: number;
}

/** A message as a subscriber over HTTP or CoAP receives it. */
export interface DeviceMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MessageProperties;
}

export type SubscriptionEndReason = 'unsubscribed' | 'policy' | 'device-changed' | 'device-removed' | 'cert-revoked' | 'banned' | 'evicted' | 'consumer-error' | 'shutdown';

export interface SubscribeOptions {
  /** Delivery QoS of the broker subscription: 1 queues (bounded) while the consumer is slow, 0 drops. Default 1. */
  qos?: 0 | 1;
  /** False while the consumer's transport is backpressured; call Subscription.drained() when it is not. */
  writable?: () => boolean;
  /** Called once when the subscription ends for any reason but the consumer's own unsubscribe(). */
  onEnd?: (reason: SubscriptionEndReason, decision: Decision | null) => void;
  /**
   * Further permissions the subscription needs to stay alive, re-decided with the
   * subscription itself (e.g. `http:get` on the request path).
   */
  alsoRequires?: ReadonlyArray<{ action: Action; resource: string }>;
}

export interface Subscription {
  readonly filter: string;
  /** The broker client id (`<protocol>:<device>:<random>`). */
  readonly clientId: string;
  readonly closed: boolean;
  /** Resolves once the broker session is bound and retained messages were delivered. */
  readonly ready: Promise<void>;
  /** The consumer's transport drained: send what waited. */
  drained(): void;
  unsubscribe(): void;
}

/** Inflight window of one subscription: messages handed to the transport count as acknowledged. */
const SEND_QUOTA = 64;

function deny(code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, detail: Record<string, unknown>): never {
  throw new PalisadeError(code, message, { detail });
}

class LiveSubscription implements Subscription {
  readonly filter: string;
  readonly clientId: string;
  readonly ready: Promise<void>;
  ctx: DeviceContext;
  session: Session | null = null;
  #closed = false;
  readonly #owner: DeviceMessaging;
  readonly #onMessage: (m: DeviceMessage) => void;
  readonly #opts: SubscribeOptions;
  readonly #sink: DeliverySink;

  constructor(owner: DeviceMessaging, broker: Broker, ctx: DeviceContext, filter: string, onMessage: (m: DeviceMessage) => void, opts: SubscribeOptions) {
    this.#owner = owner;
    this.ctx = { ...ctx };
    this.filter = filter;
    this.clientId = `${ctx.protocol}:${ctx.principal.id}:${randomBytes(6).toString('hex')}`;
    this.#onMessage = onMessage;
    this.#opts = opts;
    this.#sink = {
      sendQuota: SEND_QUOTA,
      writable: () => opts.writable?.() ?? true,
      sendPublish: (delivery, packetId) => this.#deliver(delivery, packetId),
      sendPubrel: () => undefined,
      evict: () => this.end('evicted', null),
    };
    this.ready = broker
      .connect({ clientId: this.clientId, principal: ctx.principal, cleanStart: true, expiryInterval: 0, protocolVersion: 5, sink: this.#sink, will: null, onAccepted: () => undefined })
      .then(({ session }) => {
        this.session = session;
        if (this.#closed) {
          broker.disconnected(session, this.#sink, { publishWill: false });
          return;
        }
        broker.subscribe(session, { clientId: this.clientId, filter, qos: opts.qos ?? 1, noLocal: false, retainAsPublished: true, retainHandling: 0, subscriptionId: null });
      });
  }

  get closed(): boolean {
    return this.#closed;
  }

  drained(): void {
    this.session?.pump();
  }

  unsubscribe(): void {
    this.#close();
  }

  /** Ends the subscription for a reason other than the consumer's; tells the consumer once. */
  end(reason: SubscriptionEndReason, decision: Decision | null): void {
    if (this.#closed) return;
    this.#close();
    try {
      this.#opts.onEnd?.(reason, decision);
    } catch {
      // The consumer's cleanup failing must not leave the broker session behind (already removed).
    }
  }

  /** Re-decides everything the subscription holds; the first refusal, or null when still allowed. */
  recheck(): Decision | null {
    const context = { source: this.ctx.source };
    const sub = this.ctx.policy.authorize(Actions.mqttSubscribe, this.filter, context);
    if (!sub.allowed) return sub;
    for (const r of this.#opts.alsoRequires ?? []) {
      const d = this.ctx.policy.authorize(r.action, r.resource, context);
      if (!d.allowed) return d;
    }
    return null;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.forget(this);
    if (this.session) this.#owner.broker.disconnected(this.session, this.#sink, { publishWill: false });
  }

  #deliver(delivery: Delivery, packetId: number | null): void {
    const session = this.session;
    // Handed to the transport is as far as HTTP and CoAP acknowledge; completing on a microtask
    // keeps a long queue from pumping recursively through this frame.
    if (packetId !== null && session) queueMicrotask(() => session.complete(packetId));
    if (this.#closed) return;
    const m: AppMessage = delivery.message;
    const decision = this.ctx.policy.authorize(Actions.mqttReceive, m.topic, { source: this.ctx.source });
    if (!decision.allowed) {
      this.#owner.record(this.ctx, 'receive_denied', { topic: m.topic, filter: this.filter, rule: decision.rule });
      return;
    }
    try {
      this.#onMessage({ topic: m.topic, payload: m.payload, qos: delivery.qos, retain: delivery.retain, properties: m.properties });
    } catch (err) {
      this.#owner.record(this.ctx, 'subscription_closed', { filter: this.filter, cause: 'consumer-error', error: err instanceof Error ? err.message : String(err) });
      this.end('consumer-error', null);
    }
  }
}

export class DeviceMessaging {
  readonly broker: Broker;
  readonly #deps: DeviceMessagingDeps;
  readonly #subs = new Set<LiveSubscription>();
  readonly #stopFollowing: () => void;
  #epoch = 0;

  constructor(deps: DeviceMessagingDeps) {
    this.#deps = deps;
    this.broker = deps.broker;
    const engine = deps.policy;
    this.#stopFollowing = 'onChange' in engine ? engine.onChange(() => this.reauthorizeAll('policy changed')) : () => undefined;
  }

  /**
   * Moves whenever a device changed or a certificate was revoked: protocol adapters that cache
   * an authenticated principal (per TLS connection, per DTLS session) re-authenticate when it does.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** Live subscriptions over every protocol using this facade. */
  get subscriptionCount(): number {
    return this.#subs.size;
  }

  /**
   * Authorises, validates and publishes. Resolves once what was routed is stored (the broker's
   * write-behind flushed): QoS 1 semantics, whatever `qos` the message carries onwards.
   */
  async publish(ctx: DeviceContext, topic: string, payload: Buffer, opts: PublishOptions): Promise<void> {
    const { broker, limits } = this.#deps;
    try {
      validateTopicName(topic, limits);
    } catch (err) {
      this.record(ctx, 'publish_invalid', { topic: topic.slice(0, 256) });
      throw err;
    }
    if (payload.length > limits.maxPayloadSize) {
      this.record(ctx, 'payload_too_large', { topic, size: payload.length, limit: limits.maxPayloadSize });
      deny(ErrorCodes.PACKET_TOO_LARGE, 'payload larger than the limit', { size: payload.length, limit: limits.maxPayloadSize });
    }
    if (opts.retain && !limits.retainAvailable) {
      this.record(ctx, 'publish_refused', { topic, why: 'retain not available' });
      deny(ErrorCodes.INVALID_ARGUMENT, 'retained messages are not available', { topic });
    }
    const decision = ctx.policy.authorize(Actions.mqttPublish, topic, { source: ctx.source });
    if (!decision.allowed) {
      broker.stats.publishDenied++;
      this.record(ctx, 'publish_denied', { topic, rule: decision.rule });
      deny(ErrorCodes.POLICY_DENIED, 'publish not allowed by policy', { action: Actions.mqttPublish, resource: topic, rule: decision.rule });
    }
    if (opts.retain && payload.length > 0 && !broker.canRetain(topic)) {
      this.record(ctx, 'retained_quota', { topic });
      deny(ErrorCodes.QUOTA_EXCEEDED, 'retained message quota reached', { topic });
    }
    const inspector = this.#deps.inspector;
    if (inspector) {
      const v = inspector.inspect({ principal: ctx.principal, protocol: ctx.protocol, topic, payload, userProperties: {}, source: ctx.source, deferrable: false });
      if (!v.ok) throw refusalError(v);
      if (v.payload !== undefined) payload = v.payload;
    }
    const expiry = opts.expirySeconds;
    broker.publish({
      topic,
      payload,
      qos: opts.qos,
      retain: opts.retain,
      properties: opts.properties ?? {},
      expiresAt: expiry === undefined ? null : Date.now() + expiry * 1000,
      origin: `${ctx.protocol}:${ctx.principal.id}`,
    });
    await broker.persisted();
  }

  /** The retained message on `topic`, authorised as a subscription to it; null when none. */
  readRetained(ctx: DeviceContext, topic: string): RetainedMessage | null {
    try {
      validateTopicName(topic, this.#deps.limits);
    } catch (err) {
      this.record(ctx, 'retained_invalid', { topic: topic.slice(0, 256) });
      throw err;
    }
    this.#authorizeSubscribe(ctx, topic, 'retained_denied');
    const r = this.#deps.broker.retained(topic);
    if (r === null) return null;
    // A policy may allow the subscription yet deny receiving this topic.
    const receive = ctx.policy.authorize(Actions.mqttReceive, topic, { source: ctx.source });
    if (!receive.allowed) {
      this.record(ctx, 'retained_denied', { topic, rule: receive.rule, action: Actions.mqttReceive });
      deny(ErrorCodes.POLICY_DENIED, 'receive not allowed by policy', { action: Actions.mqttReceive, resource: topic, rule: receive.rule });
    }
    return r;
  }

  /**
   * Subscribes to `filter` (no shared subscriptions: `$share/` is for MQTT consumers). Throws
   * when not allowed; each delivery is then checked with `mqtt:receive`.
   */
  subscribe(ctx: DeviceContext, filter: string, onMessage: (m: DeviceMessage) => void, opts: SubscribeOptions = {}): Subscription {
    let parsed;
    try {
      parsed = parseTopicFilter(filter, this.#deps.limits);
    } catch (err) {
      this.record(ctx, 'subscribe_invalid', { filter: filter.slice(0, 256) });
      throw err;
    }
    if (parsed.shareGroup !== null) {
      this.record(ctx, 'subscribe_invalid', { filter, why: 'shared subscription' });
      deny(ErrorCodes.FILTER_INVALID, 'shared subscriptions are for MQTT consumers', { filter });
    }
    this.#authorizeSubscribe(ctx, filter, 'subscribe_denied');
    for (const r of opts.alsoRequires ?? []) {
      const d = ctx.policy.authorize(r.action, r.resource, { source: ctx.source });
      if (!d.allowed) {
        this.record(ctx, 'subscribe_denied', { filter, action: r.action, resource: r.resource, rule: d.rule });
        deny(ErrorCodes.POLICY_DENIED, `${r.action} not allowed by policy`, { action: r.action, resource: r.resource, rule: d.rule });
      }
    }
    let held = 0;
    for (const s of this.#subs) if (s.ctx.principal.id === ctx.principal.id) held++;
    if (held >= this.#deps.limits.maxSubscriptionsPerDevice) {
      this.record(ctx, 'subscription_quota', { filter, held });
      deny(ErrorCodes.QUOTA_EXCEEDED, 'too many live subscriptions for this device', { held });
    }
    const sub = new LiveSubscription(this, this.#deps.broker, ctx, filter, onMessage, opts);
    this.#subs.add(sub);
    return sub;
  }

  /** After a policy change: every live subscription re-decides; refused ones end. */
  reauthorizeAll(cause: string): void {
    for (const s of [...this.#subs]) this.#recheck(s, cause);
  }

  /**
   * A device changed: its subscriptions take its new principal (policy compiled again) and
   * re-decide; `next` null means the device is gone or disabled, and they end.
   */
  updateDevice(deviceId: string, next: ((p: DevicePrincipal) => DevicePrincipal) | null, cause: string): number {
    this.#epoch++;
    let touched = 0;
    for (const s of [...this.#subs]) {
      if (s.ctx.principal.id !== deviceId) continue;
      touched++;
      if (next === null) {
        this.record(s.ctx, 'subscription_closed', { filter: s.filter, cause }, 'warning');
        s.end('device-removed', null);
        continue;
      }
      const before = s.ctx.principal;
      const principal = next(before);
      s.ctx = { ...s.ctx, principal, policy: this.#deps.policy.compile(principal) };
      if (s.session) s.session.principal = principal;
      this.#recheck(s, cause, principal.segment !== before.segment ? 'device-changed' : 'policy');
    }
    return touched;
  }

  /** A certificate was revoked: subscriptions authenticated with it end at once. */
  closeByCertificate(serials: ReadonlySet<string>): string[] {
    this.#epoch++;
    const closed: string[] = [];
    for (const s of [...this.#subs]) {
      const serial = s.ctx.principal.certSerial;
      if (serial === null || !serials.has(serial)) continue;
      this.record(s.ctx, 'subscription_closed', { filter: s.filter, cause: 'certificate revoked', certSerial: serial }, 'critical');
      s.end('cert-revoked', null);
      closed.push(s.clientId);
    }
    return closed;
  }

  /**
   * A ban was added (shield): subscriptions it matches — by device, certificate or source
   * address, as `banned` decides — end at once, as MQTT sessions do (SSE streams, CoAP observers).
   */
  closeBanned(banned: (ctx: DeviceContext) => { id: number; kind: string } | null): number {
    let closed = 0;
    for (const s of [...this.#subs]) {
      const ban = banned(s.ctx);
      if (ban === null) continue;
      this.record(s.ctx, 'subscription_closed', { filter: s.filter, cause: 'banned', banId: ban.id, kind: ban.kind }, 'warning');
      s.end('banned', null);
      closed++;
    }
    if (closed > 0) this.#epoch++;
    return closed;
  }

  /** Ends every subscription and stops following policy changes (gateway stop). */
  stop(): void {
    this.#stopFollowing();
    for (const s of [...this.#subs]) s.end('shutdown', null);
  }

  /** @internal LiveSubscription removes itself. */
  forget(sub: LiveSubscription): void {
    this.#subs.delete(sub);
  }

  /** @internal Records `<protocol>.<what>` for the context's principal. */
  record(ctx: DeviceContext, what: string, detail: Record<string, unknown>, severity: 'info' | 'warning' | 'critical' = 'warning'): void {
    this.#deps.events.record(`${ctx.protocol}.${what}`, severity, { principal: ctx.principal.id, source: ctx.source, detail });
  }

  #authorizeSubscribe(ctx: DeviceContext, filter: string, event: string): void {
    const decision = ctx.policy.authorize(Actions.mqttSubscribe, filter, { source: ctx.source });
    if (decision.allowed) return;
    this.record(ctx, event, { filter, rule: decision.rule });
    deny(ErrorCodes.POLICY_DENIED, 'subscribe not allowed by policy', { action: Actions.mqttSubscribe, resource: filter, rule: decision.rule });
  }

  #recheck(s: LiveSubscription, cause: string, reason: SubscriptionEndReason = 'policy'): void {
    const refused = s.recheck();
    if (refused === null) return;
    this.record(s.ctx, 'subscription_closed', { filter: s.filter, rule: refused.rule, cause });
    s.end(reason, refused);
  }
}
