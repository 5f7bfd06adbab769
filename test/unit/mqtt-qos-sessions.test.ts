import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

const lab = { listeners: { mqtt: { anonymous: { segment: 'lab' } } }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } } };
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway(lab);
});
afterAll(async () => t.stop());

async function subscriber(id: string, filter: string, qos: 0 | 1 | 2, version: 4 | 5 = 5, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await RawClient.connected(t.port('mqtt'), { clientId: id, ...extra }, version);
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  const ack = await c.next('suback');
  expect(ack.granted).toEqual([qos]);
  return c;
}

describe('QoS flows', () => {
  it('delivers QoS 0, 1 and 2 end to end with the subscription QoS capping delivery', async () => {
    const sub = await subscriber('q-sub', 'lab/q/#', 2);
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'q-pub' });
    pub.send({ cmd: 'publish', topic: 'lab/q/0', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false });
    const m0 = await sub.next('publish');
    expect(m0.qos).toBe(0);
    expect(m0.payload.toString()).toBe('zero');

    pub.send({ cmd: 'publish', topic: 'lab/q/1', payload: Buffer.from('one'), qos: 1, messageId: 7, retain: false, dup: false });
    expect((await pub.next('puback')).messageId).toBe(7);
    const m1 = await sub.next('publish');
    expect(m1.qos).toBe(1);
    sub.send({ cmd: 'puback', messageId: m1.messageId! });

    pub.send({ cmd: 'publish', topic: 'lab/q/2', payload: Buffer.from('two'), qos: 2, messageId: 8, retain: false, dup: false });
    expect((await pub.next('pubrec')).messageId).toBe(8);
    pub.send({ cmd: 'pubrel', messageId: 8 });
    expect((await pub.next('pubcomp')).messageId).toBe(8);
    const m2 = await sub.next('publish');
    expect(m2.qos).toBe(2);
    sub.send({ cmd: 'pubrec', messageId: m2.messageId! });
    expect((await sub.next('pubrel')).messageId).toBe(m2.messageId);
    sub.send({ cmd: 'pubcomp', messageId: m2.messageId! });
    pub.destroy();
    sub.destroy();
  });

  it('never delivers a QoS 2 message twice when the publisher resends it before PUBREL', async () => {
    const sub = await subscriber('q2-sub', 'lab/dup', 2);
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'q2-pub' });
    const msg = { cmd: 'publish' as const, topic: 'lab/dup', payload: Buffer.from('once'), qos: 2 as const, messageId: 99, retain: false, dup: false };
    pub.send(msg);
    await pub.next('pubrec');
    pub.send({ ...msg, dup: true });
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 99 });
    await pub.next('pubcomp');
    const first = await sub.next('publish');
    expect(first.payload.toString()).toBe('once');
    await sub.nothing('publish', 400);
    pub.destroy();
    sub.destroy();
  });

  it('holds QoS 1 deliveries to the client Receive Maximum until acknowledged', async () => {
    const sub = await subscriber('rm-sub', 'lab/rm', 1, 5, { properties: { receiveMaximum: 2 } });
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'rm-pub' });
    for (let i = 1; i <= 5; i++) pub.send({ cmd: 'publish', topic: 'lab/rm', payload: Buffer.from(String(i)), qos: 1, messageId: i, retain: false, dup: false });
    const a = await sub.next('publish');
    const b = await sub.next('publish');
    await sub.nothing('publish', 300);
    sub.send({ cmd: 'puback', messageId: a.messageId! });
    const c = await sub.next('publish');
    expect([a, b, c].map((p) => p.payload.toString())).toEqual(['1', '2', '3']);
    pub.destroy();
    sub.destroy();
  });

  it('resends unacknowledged QoS 1 messages with DUP when a persistent session reconnects', async () => {
    const sub = await subscriber('dup-sub', 'lab/resend', 1, 4, { clean: false });
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'dup-pub' });
    pub.send({ cmd: 'publish', topic: 'lab/resend', payload: Buffer.from('r'), qos: 1, messageId: 1, retain: false, dup: false });
    const first = await sub.next('publish');
    expect(first.dup).toBe(false);
    sub.destroy();
    await sub.waitClosed();
    const again = await RawClient.tcp(t.port('mqtt'), 4);
    const ack = await again.connect({ clientId: 'dup-sub', clean: false });
    expect(ack.sessionPresent).toBe(true);
    const resent = await again.next('publish');
    expect(resent.dup).toBe(true);
    expect(resent.messageId).toBe(first.messageId);
    expect(resent.payload.toString()).toBe('r');
    again.send({ cmd: 'puback', messageId: resent.messageId! });
    again.destroy();
    pub.destroy();
  });
});

describe('persistent sessions', () => {
  it('queues QoS 1 and 2 for an offline subscriber across a broker restart, and QoS 2 arrives once', async () => {
    const own = await startTestGateway(lab);
    try {
      const sub = await RawClient.connected(own.port('mqtt'), { clientId: 'offline', clean: false, properties: { sessionExpiryInterval: 3600 } });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/offline/#', qos: 2 }] });
      await sub.next('suback');
      sub.send({ cmd: 'disconnect', reasonCode: 0 });
      await sub.waitClosed();

      const pub = await RawClient.connected(own.port('mqtt'), { clientId: 'offline-pub' });
      pub.send({ cmd: 'publish', topic: 'lab/offline/a', payload: Buffer.from('q1'), qos: 1, messageId: 1, retain: false, dup: false });
      await pub.next('puback');
      pub.send({ cmd: 'publish', topic: 'lab/offline/b', payload: Buffer.from('q2'), qos: 2, messageId: 2, retain: false, dup: false });
      await pub.next('pubrec');
      pub.send({ cmd: 'pubrel', messageId: 2 });
      await pub.next('pubcomp');
      pub.send({ cmd: 'publish', topic: 'lab/offline/c', payload: Buffer.from('q0'), qos: 0, retain: false, dup: false });
      pub.destroy();

      await own.restart();

      const back = await RawClient.tcp(own.port('mqtt'), 5);
      const ack = await back.connect({ clientId: 'offline', clean: false, properties: { sessionExpiryInterval: 3600 } });
      expect(ack.sessionPresent).toBe(true);
      const got: string[] = [];
      const p1 = await back.next('publish');
      got.push(p1.payload.toString());
      back.send({ cmd: 'puback', messageId: p1.messageId! });
      const p2 = await back.next('publish');
      got.push(p2.payload.toString());
      expect(p2.qos).toBe(2);
      back.send({ cmd: 'pubrec', messageId: p2.messageId! });
      await back.next('pubrel');
      back.send({ cmd: 'pubcomp', messageId: p2.messageId! });
      expect(got).toEqual(['q1', 'q2']);
      // QoS 0 is not queued for offline sessions, and nothing comes twice.
      await back.nothing('publish', 400);
      back.destroy();
      await back.waitClosed();

      // After a second restart nothing is left to deliver: acknowledged means gone.
      await own.restart();
      const third = await RawClient.tcp(own.port('mqtt'), 5);
      expect((await third.connect({ clientId: 'offline', clean: false, properties: { sessionExpiryInterval: 3600 } })).sessionPresent).toBe(true);
      await third.nothing('publish', 400);
      third.destroy();
    } finally {
      await own.stop();
    }
  });

  it('starts clean when asked, discarding the old session', async () => {
    const a = await RawClient.connected(t.port('mqtt'), { clientId: 'cs', clean: false }, 4);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/cs', qos: 1 }] });
    await a.next('suback');
    a.destroy();
    await a.waitClosed();
    const b = await RawClient.tcp(t.port('mqtt'), 4);
    expect((await b.connect({ clientId: 'cs', clean: true })).sessionPresent).toBe(false);
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'cs-pub' });
    pub.send({ cmd: 'publish', topic: 'lab/cs', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await b.nothing('publish', 300);
    b.destroy();
    pub.destroy();
  });

  it('bounds the offline queue of a session', async () => {
    const own = await startTestGateway({ ...lab, mqtt: { maxQueuedMessages: 5, sysIntervalSeconds: 0 } });
    try {
      const sub = await RawClient.connected(own.port('mqtt'), { clientId: 'bounded', clean: false }, 4);
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/bounded', qos: 1 }] });
      await sub.next('suback');
      sub.destroy();
      await sub.waitClosed();
      const pub = await RawClient.connected(own.port('mqtt'), { clientId: 'bounded-pub' });
      for (let i = 0; i < 20; i++) pub.send({ cmd: 'publish', topic: 'lab/bounded', payload: Buffer.from(String(i)), qos: 1, messageId: i + 1, retain: false, dup: false });
      for (let i = 0; i < 20; i++) await pub.next('puback');
      expect(own.gateway.broker.session('bounded')?.queuedCount).toBe(5);
      expect(own.gateway.broker.stats.messagesDropped).toBe(15);
      pub.destroy();
    } finally {
      await own.stop();
    }
  });
});

describe('retained messages and wills', () => {
  it('delivers a retained message on subscribe and deletes it with an empty payload', async () => {
    const pub = await RawClient.connected(t.port('mqtt'), { clientId: 'ret-pub' });
    pub.send({ cmd: 'publish', topic: 'lab/ret', payload: Buffer.from('kept'), qos: 1, messageId: 1, retain: true, dup: false });
    await pub.next('puback');
    const s1 = await subscriber('ret-s1', 'lab/ret', 1);
    const r = await s1.next('publish');
    expect(r.retain).toBe(true);
    expect(r.payload.toString()).toBe('kept');
    s1.destroy();
    pub.send({ cmd: 'publish', topic: 'lab/ret', payload: Buffer.alloc(0), qos: 1, messageId: 2, retain: true, dup: false });
    await pub.next('puback');
    const s2 = await subscriber('ret-s2', 'lab/ret', 1);
    await s2.nothing('publish', 300);
    expect(await t.gateway.store.retained.get('lab/ret')).toBeNull();
    s2.destroy();
    pub.destroy();
  });

  it('publishes the will when the connection drops, not after a normal DISCONNECT', async () => {
    const watcher = await subscriber('will-w', 'lab/will/#', 1);
    const dying = await RawClient.connected(t.port('mqtt'), { clientId: 'will-a', will: { topic: 'lab/will/a', payload: Buffer.from('gone'), qos: 1, retain: false } });
    dying.destroy();
    const w = await watcher.next('publish');
    expect(w.payload.toString()).toBe('gone');
    watcher.send({ cmd: 'puback', messageId: w.messageId! });

    const polite = await RawClient.connected(t.port('mqtt'), { clientId: 'will-b', will: { topic: 'lab/will/b', payload: Buffer.from('no'), qos: 1, retain: false } });
    polite.send({ cmd: 'disconnect', reasonCode: 0 });
    await polite.waitClosed();
    await watcher.nothing('publish', 300);

    const asked = await RawClient.connected(t.port('mqtt'), { clientId: 'will-c', will: { topic: 'lab/will/c', payload: Buffer.from('asked'), qos: 0, retain: false } });
    asked.send({ cmd: 'disconnect', reasonCode: 0x04 });
    expect((await watcher.next('publish')).payload.toString()).toBe('asked');
    watcher.destroy();
  });

  it('delays a v5 will and cancels it when the client comes back in time', async () => {
    const watcher = await subscriber('wd-w', 'lab/wd/#', 0);
    const opts = { clientId: 'wd', clean: false, properties: { sessionExpiryInterval: 60 }, will: { topic: 'lab/wd/x', payload: Buffer.from('late'), qos: 0 as const, retain: false, properties: { willDelayInterval: 1 } } };
    const a = await RawClient.connected(t.port('mqtt'), opts);
    a.destroy();
    await a.waitClosed();
    const b = await RawClient.connected(t.port('mqtt'), { ...opts, will: undefined });
    await watcher.nothing('publish', 1500);
    b.destroy();
    await b.waitClosed();

    const c = await RawClient.connected(t.port('mqtt'), opts);
    c.destroy();
    const started = Date.now();
    const w = await watcher.next('publish', 4000);
    expect(w.payload.toString()).toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    watcher.destroy();
  });

  it('refuses a will on a topic the device may not publish to', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    const ack = await c.connect({ clientId: 'will-bad', will: { topic: 'other/secret', payload: Buffer.from('x'), qos: 0, retain: false } });
    expect(ack.reasonCode).toBe(0x87);
  });
});

describe('policy (minimal)', () => {
  it('lets a device use its own prefix and the broadcast tree, and nothing else', async () => {
    const own = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'hvac' } } } });
    try {
      const c = await RawClient.connected(own.port('mqtt'), { clientId: 'dev1' });
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hvac/dev1/#', qos: 1 }, { topic: 'hvac/broadcast/#', qos: 1 }, { topic: 'hvac/dev2/#', qos: 1 }, { topic: '#', qos: 0 }] });
      expect((await c.next('suback')).granted).toEqual([1, 1, 0x87, 0x87]);
      c.send({ cmd: 'publish', topic: 'hvac/dev2/cmd', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
      expect((await c.next('puback')).reasonCode).toBe(0x87);
      c.send({ cmd: 'publish', topic: 'hvac/dev1/t', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false });
      expect((await c.next('puback')).reasonCode ?? 0).toBe(0);
      await own.gateway.events.flush();
      expect((await own.gateway.store.events.list({ type: 'mqtt.subscribe_denied' })).length).toBe(2);
      expect((await own.gateway.store.events.list({ type: 'mqtt.publish_denied' })).length).toBe(1);
      c.destroy();
    } finally {
      await own.stop();
    }
  });
});

describe('quotas', () => {
  it('refuses subscriptions past the per-session cap and retained topics past the global cap (0x97)', async () => {
    const own = await startTestGateway({ ...lab, mqtt: { maxSubscriptionsPerSession: 2, maxRetainedMessages: 1, sysIntervalSeconds: 0 } });
    try {
      const c = await RawClient.connected(own.port('mqtt'), { clientId: 'quota' });
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/a', qos: 0 }, { topic: 'lab/b', qos: 0 }, { topic: 'lab/c', qos: 0 }] });
      expect((await c.next('suback')).granted).toEqual([0, 0, 0x97]);
      // Re-subscribing to a held filter is not a new one.
      c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'lab/a', qos: 1 }] });
      expect((await c.next('suback')).granted).toEqual([1]);
      c.send({ cmd: 'publish', topic: 'lab/r1', payload: Buffer.from('1'), qos: 1, messageId: 3, retain: true, dup: false });
      expect((await c.next('puback')).reasonCode ?? 0).toBe(0);
      c.send({ cmd: 'publish', topic: 'lab/r2', payload: Buffer.from('2'), qos: 1, messageId: 4, retain: true, dup: false });
      expect((await c.next('puback')).reasonCode).toBe(0x97);
      // Replacing the one retained topic still works.
      c.send({ cmd: 'publish', topic: 'lab/r1', payload: Buffer.from('3'), qos: 1, messageId: 5, retain: true, dup: false });
      expect((await c.next('puback')).reasonCode ?? 0).toBe(0);
      expect(own.gateway.broker.retainedCount).toBe(1);
      c.destroy();
    } finally {
      await own.stop();
    }
  });
});
