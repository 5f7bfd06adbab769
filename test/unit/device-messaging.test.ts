/**
 * The protocol-neutral messaging facade (issue 4): HTTP and CoAP publish, read retained and
 * subscribe through the same checks as MQTT, against a real Broker on a real SQLite store and
 * the real ZeroTrustPolicyEngine. Refusals are PalisadeErrors with a stable code and a security
 * event; live subscriptions follow policy changes, device moves and certificate revocation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { EventLog } from '../../src/core/events/event-log.ts';
import { withDeviceState, type DevicePrincipal } from '../../src/core/identity/principal.ts';
import { Broker } from '../../src/core/messaging/broker.ts';
import { DeviceMessaging, type DeviceContext, type DeviceMessage, type SubscriptionEndReason } from '../../src/core/messaging/device-messaging.ts';
import type { DeliverySink } from '../../src/core/messaging/session.ts';
import { ZeroTrustPolicyEngine } from '../../src/core/policy/index.ts';
import type { PolicyConfig } from '../../src/core/policy/document.ts';
import type { SecurityEventInput } from '../../src/core/ports.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const READ_ALL_PLANT: PolicyConfig = {
  policies: [
    {
      name: 'plant-read',
      version: '2026-11',
      statements: [
        { sid: 'read', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: ['plant/#'] },
        { sid: 'no-secrets', effect: 'deny', actions: ['mqtt:receive'], resources: ['plant/secret/#'] },
      ],
    },
  ],
  attachments: { segment: { plant: ['plant-read'] }, device: {} },
};

let dir: string;
let store: SqliteStore;
let broker: Broker;
let engine: ZeroTrustPolicyEngine;
let events: EventLog;
let seen: SecurityEventInput[];
let dm: DeviceMessaging;

function principal(id: string, segment = 'plant', certSerial: string | null = null): DevicePrincipal {
  return { kind: 'device', id, segment, authMethod: certSerial ? 'certificate' : 'password', attrs: {}, certSerial, certCommonName: null };
}

function ctx(p: DevicePrincipal, protocol: 'http' | 'coap' = 'http'): DeviceContext {
  return { principal: p, policy: engine.compile(p), source: '127.0.0.1:5000', protocol };
}

async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (isPalisadeError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

function tick(ms = 20): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-dm-'));
  store = await openSqliteStore(join(dir, 'palisade.db'));
  broker = new Broker({ store, maxQueuedMessages: 100, maxInflight: 16, maxTopicLength: 256, maxTopicLevels: 8, maxRetainedMessages: 100, onStoreError: (err) => { throw err; } });
  engine = new ZeroTrustPolicyEngine(READ_ALL_PLANT);
  events = new EventLog(store.events);
  seen = [];
  events.onEvent((e) => seen.push(e));
  dm = new DeviceMessaging({ broker, policy: engine, events, limits: { maxTopicLength: 256, maxTopicLevels: 8, maxPayloadSize: 1024, retainAvailable: true, maxSubscriptionsPerDevice: 3 } });
});

afterEach(async () => {
  dm.stop();
  await broker.close();
  await events.flush();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('publish', () => {
  it('routes to subscribers and resolves only after a persistent session holds the message in the store', async () => {
    const sink: DeliverySink = { sendPublish: () => undefined, sendPubrel: () => undefined, writable: () => true, sendQuota: 10, evict: () => undefined };
    const { session } = await broker.connect({ clientId: 'offline-sub', principal: principal('sub-1'), cleanStart: true, expiryInterval: 3600, protocolVersion: 5, sink, will: null, onAccepted: () => undefined });
    broker.subscribe(session, { clientId: 'offline-sub', filter: 'plant/a1/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: null });
    broker.disconnected(session, sink, { publishWill: false });

    await dm.publish(ctx(principal('a1')), 'plant/a1/temp', Buffer.from('21.5'), { qos: 1, retain: false });
    const stored = await store.messages.listForSession('offline-sub');
    expect(stored.map((m) => [m.topic, m.payload.toString()])).toEqual([['plant/a1/temp', '21.5']]);
  });

  it('refuses a topic outside the grant with POLICY_DENIED and a security event naming the rule', async () => {
    expect(await code(() => dm.publish(ctx(principal('a1')), 'plant/b2/temp', Buffer.from('x'), { qos: 1, retain: false }))).toBe(ErrorCodes.POLICY_DENIED);
    const e = seen.find((x) => x.type === 'http.publish_denied');
    expect(e?.principal).toBe('a1');
    expect(e?.detail).toMatchObject({ topic: 'plant/b2/temp', rule: 'default-deny' });
    expect(broker.stats.publishDenied).toBe(1);
  });

  it('refuses invalid topics and oversized payloads, each with an event', async () => {
    const c = ctx(principal('a1'), 'coap');
    expect(await code(() => dm.publish(c, 'plant/a1/+', Buffer.from('x'), { qos: 0, retain: false }))).toBe(ErrorCodes.TOPIC_INVALID);
    expect(await code(() => dm.publish(c, 'plant/a1/x', Buffer.alloc(1025), { qos: 0, retain: false }))).toBe(ErrorCodes.PACKET_TOO_LARGE);
    expect(seen.map((e) => e.type)).toEqual(['coap.publish_invalid', 'coap.payload_too_large']);
  });
});

describe('readRetained', () => {
  it('returns the retained message under mqtt:subscribe, null when none, and refuses other trees', async () => {
    const a1 = ctx(principal('a1'));
    await dm.publish(a1, 'plant/a1/state', Buffer.from('on'), { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
    expect(dm.readRetained(a1, 'plant/a1/state')?.payload.toString()).toBe('on');
    expect(dm.readRetained(a1, 'plant/a1/state')?.properties.contentType).toBe('text/plain');
    expect((await store.retained.list()).map((r) => r.topic)).toEqual(['plant/a1/state']);
    expect(dm.readRetained(a1, 'plant/a1/none')).toBeNull();
    const other = ctx(principal('z9', 'yard'));
    expect(await code(() => dm.readRetained(other, 'plant/a1/state'))).toBe(ErrorCodes.POLICY_DENIED);
    expect(seen.at(-1)?.type).toBe('http.retained_denied');
  });

  it('refuses a retained topic the policy lets one subscribe to but not receive', async () => {
    broker.publish({ topic: 'plant/secret/key', payload: Buffer.from('k'), qos: 0, retain: true, properties: {}, expiresAt: null, origin: null });
    expect(await code(() => dm.readRetained(ctx(principal('a1')), 'plant/secret/key'))).toBe(ErrorCodes.POLICY_DENIED);
  });
});

describe('subscribe', () => {
  it('delivers retained and live messages, checks mqtt:receive per message, and leaves no session after unsubscribe', async () => {
    const got: DeviceMessage[] = [];
    broker.publish({ topic: 'plant/x/state', payload: Buffer.from('r'), qos: 1, retain: true, properties: {}, expiresAt: null, origin: null });
    const sub = dm.subscribe(ctx(principal('a1')), 'plant/#', (m) => got.push(m));
    await sub.ready;
    expect(sub.clientId).toMatch(/^http:a1:[0-9a-f]{12}$/);
    expect(broker.session(sub.clientId)).toBeDefined();
    await dm.publish(ctx(principal('a1')), 'plant/a1/temp', Buffer.from('1'), { qos: 1, retain: false });
    broker.publish({ topic: 'plant/secret/key', payload: Buffer.from('k'), qos: 1, retain: false, properties: {}, expiresAt: null, origin: null });
    await tick();
    expect(got.map((m) => [m.topic, m.payload.toString(), m.retain])).toEqual([
      ['plant/x/state', 'r', true],
      ['plant/a1/temp', '1', false],
    ]);
    expect(seen.find((e) => e.type === 'http.receive_denied')?.detail).toMatchObject({ topic: 'plant/secret/key', rule: 'plant-read#no-secrets' });
    sub.unsubscribe();
    expect(sub.closed).toBe(true);
    expect(broker.session(sub.clientId)).toBeUndefined();
    expect(broker.subscriptionCount).toBe(0);
    broker.publish({ topic: 'plant/a1/temp', payload: Buffer.from('2'), qos: 1, retain: false, properties: {}, expiresAt: null, origin: null });
    await tick();
    expect(got).toHaveLength(2);
  });

  it('refuses a filter outside the grant, an invalid or shared filter, and more than the per-device cap', async () => {
    const c = ctx(principal('a1'));
    expect(await code(() => dm.subscribe(c, 'yard/#', () => undefined))).toBe(ErrorCodes.POLICY_DENIED);
    expect(await code(() => dm.subscribe(c, 'plant/#/x', () => undefined))).toBe(ErrorCodes.FILTER_INVALID);
    expect(await code(() => dm.subscribe(c, '$share/g/plant/#', () => undefined))).toBe(ErrorCodes.FILTER_INVALID);
    for (let i = 0; i < 3; i++) dm.subscribe(c, 'plant/#', () => undefined);
    expect(await code(() => dm.subscribe(c, 'plant/#', () => undefined))).toBe(ErrorCodes.QUOTA_EXCEEDED);
    expect(seen.map((e) => e.type)).toEqual(['http.subscribe_denied', 'http.subscribe_invalid', 'http.subscribe_invalid', 'http.subscription_quota']);
  });

  it('queues behind a backpressured consumer and sends on drained()', async () => {
    const got: string[] = [];
    let writable = false;
    const sub = dm.subscribe(ctx(principal('a1')), 'plant/a1/#', (m) => got.push(m.payload.toString()), { writable: () => writable });
    await sub.ready;
    for (const p of ['1', '2', '3']) await dm.publish(ctx(principal('a1')), 'plant/a1/t', Buffer.from(p), { qos: 1, retain: false });
    expect(got).toEqual([]);
    writable = true;
    sub.drained();
    await tick();
    expect(got).toEqual(['1', '2', '3']);
  });

  it('ends when a policy change withdraws the grant, with the rule, and keeps subscriptions still allowed', async () => {
    const ends: Array<[SubscriptionEndReason, string | undefined]> = [];
    const broad = dm.subscribe(ctx(principal('a1')), 'plant/#', () => undefined, { onEnd: (r, d) => ends.push([r, d?.rule]) });
    const own = dm.subscribe(ctx(principal('a1')), 'plant/a1/#', () => undefined, { onEnd: (r) => ends.push([r, 'own']) });
    await Promise.all([broad.ready, own.ready]);
    engine.update({ policies: [], attachments: { segment: {}, device: {} } });
    expect(ends).toEqual([['policy', 'default-deny']]);
    expect(broad.closed).toBe(true);
    expect(own.closed).toBe(false);
    expect(broker.session(broad.clientId)).toBeUndefined();
    expect(seen.find((e) => e.type === 'http.subscription_closed')?.detail).toMatchObject({ filter: 'plant/#', cause: 'policy changed' });
  });

  it('ends when a permission it also requires (the transport) is withdrawn', async () => {
    const ends: SubscriptionEndReason[] = [];
    const sub = dm.subscribe(ctx(principal('a1')), 'plant/a1/#', () => undefined, { alsoRequires: [{ action: 'http:get', resource: '/api/v1/subscribe' }], onEnd: (r) => ends.push(r) });
    await sub.ready;
    engine.update({
      policies: [{ name: 'no-http', version: '2026-11', statements: [{ sid: 'deny-http', effect: 'deny', actions: ['http:*'], resources: ['**'] }] }],
      attachments: { segment: { plant: ['no-http'] }, device: {} },
    });
    expect(ends).toEqual(['policy']);
  });

  it('ends when the device moves to quarantine, and when it is removed', async () => {
    const ends: SubscriptionEndReason[] = [];
    const a1 = dm.subscribe(ctx(principal('a1')), 'plant/a1/#', () => undefined, { onEnd: (r) => ends.push(r) });
    const a2 = dm.subscribe(ctx(principal('a2')), 'plant/a2/#', () => undefined, { onEnd: (r) => ends.push(r) });
    await Promise.all([a1.ready, a2.ready]);
    expect(dm.updateDevice('a1', (p) => withDeviceState(p, { segment: 'plant', attrs: { floor: '2' } }), 'device changed')).toBe(1);
    expect(a1.closed).toBe(false);
    dm.updateDevice('a1', (p) => withDeviceState(p, { segment: 'quarantine', attrs: {} }), 'device changed');
    expect(a1.closed).toBe(true);
    dm.updateDevice('a2', null, 'disabled');
    expect(ends).toEqual(['device-changed', 'device-removed']);
    expect(broker.sessionCount).toBe(0);
  });

  it('ends subscriptions authenticated with a revoked certificate, only those', async () => {
    const ends: string[] = [];
    const revoked = dm.subscribe(ctx(principal('a1', 'plant', 'AA01')), 'plant/a1/#', () => undefined, { onEnd: (r) => ends.push(`a1:${r}`) });
    const other = dm.subscribe(ctx(principal('a2', 'plant', 'BB02')), 'plant/a2/#', () => undefined, { onEnd: (r) => ends.push(`a2:${r}`) });
    await Promise.all([revoked.ready, other.ready]);
    expect(dm.closeByCertificate(new Set(['AA01']))).toEqual([revoked.clientId]);
    expect(ends).toEqual(['a1:cert-revoked']);
    expect(other.closed).toBe(false);
    expect(seen.find((e) => e.type === 'http.subscription_closed')?.severity).toBe('critical');
  });

  it('unsubscribe before the session is bound leaves nothing behind', async () => {
    const sub = dm.subscribe(ctx(principal('a1')), 'plant/a1/#', () => undefined);
    sub.unsubscribe();
    await sub.ready;
    expect(broker.sessionCount).toBe(0);
    expect(broker.subscriptionCount).toBe(0);
    expect(dm.subscriptionCount).toBe(0);
  });
});
