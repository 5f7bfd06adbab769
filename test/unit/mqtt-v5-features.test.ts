/**
 * MQTT 5 features of the broker, driven with raw-socket clients so every property, flag and
 * reason code on the wire is checked as the broker wrote it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket, ISubscription, Packet } from 'mqtt-packet';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
const open: RawClient[] = [];
let seq = 0;

beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'lab' } } }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#', '$SYS/#'] } } } });
});
afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});
afterAll(async () => t.stop());

const uid = (prefix: string): string => `${prefix}-${++seq}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function client(id: string, extra: Partial<Parameters<typeof RawClient.connected>[1]> = {}, version: 4 | 5 = 5, port = t.port('mqtt')): Promise<RawClient> {
  const c = await RawClient.connected(port, { clientId: id, ...extra }, version);
  open.push(c);
  return c;
}

let nextId = 1;
const mid = (): number => (nextId = (nextId % 65000) + 1);

async function subscribe(c: RawClient, subscriptions: ISubscription[], properties?: { subscriptionIdentifier?: number }): Promise<number[]> {
  const messageId = mid();
  c.send(properties ? { cmd: 'subscribe', messageId, subscriptions, properties } : { cmd: 'subscribe', messageId, subscriptions });
  const ack = await c.next('suback');
  expect(ack.messageId).toBe(messageId);
  return ack.granted as number[];
}

/** Publishes; for QoS 1 waits for the PUBACK and returns its reason code. */
async function publish(c: RawClient, topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean; properties?: IPublishPacket['properties'] } = {}): Promise<number | null> {
  const qos = opts.qos ?? 1;
  const p: IPublishPacket = { cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain: opts.retain ?? false, dup: false };
  if (qos > 0) p.messageId = mid();
  if (opts.properties) p.properties = opts.properties;
  c.send(p);
  if (qos === 0) return null;
  const ack = await c.next('puback');
  expect(ack.messageId).toBe(p.messageId);
  return ack.reasonCode ?? 0;
}

async function publishes(c: RawClient, n: number, timeoutMs = 2000): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next('publish', timeoutMs));
  return out;
}

async function until(cond: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const text = (p: Packet): string => (p.cmd === 'publish' ? Buffer.from(p.payload).toString() : `<${p.cmd}>`);

describe('topic aliases', () => {
  it('resolves an inbound alias: topic set once, then publishes with an empty topic', async () => {
    const sub = await client(uid('tas'));
    expect(await subscribe(sub, [{ topic: 'lab/ta/#', qos: 1 }])).toEqual([1]);
    const pub = await client(uid('tap'));
    expect(await publish(pub, 'lab/ta/x', 'one', { properties: { topicAlias: 3 } })).toBe(0);
    expect(await publish(pub, '', 'two', { properties: { topicAlias: 3 } })).toBe(0);
    // Setting an alias again maps it to the new topic.
    expect(await publish(pub, 'lab/ta/z', 'three', { properties: { topicAlias: 3 } })).toBe(0);
    expect(await publish(pub, '', 'four', { properties: { topicAlias: 3 } })).toBe(0);
    const got = await publishes(sub, 4);
    expect(got.map((p) => [p.topic, text(p)])).toEqual([
      ['lab/ta/x', 'one'],
      ['lab/ta/x', 'two'],
      ['lab/ta/z', 'three'],
      ['lab/ta/z', 'four'],
    ]);
    // Inbound aliases are the publisher's; nothing of them reaches this subscriber.
    expect(got.every((p) => p.properties?.topicAlias === undefined)).toBe(true);
  });

  it('announces topicAliasMaximum 64 in CONNACK', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    open.push(c);
    const ack = await c.connect({ clientId: uid('tam') });
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.topicAliasMaximum).toBe(64);
  });

  it.each([
    ['0', 0],
    ['above topicAliasMaximum (65 > 64)', 65],
  ])('disconnects an inbound alias of %s with 0x94', async (_name, alias) => {
    const pub = await client(uid('tab'));
    pub.send({ cmd: 'publish', topic: 'lab/ta/bad', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: alias } });
    const d = await pub.next('disconnect');
    expect(d.reasonCode).toBe(0x94);
    await pub.waitClosed();
  });

  it('disconnects an empty topic with an alias never set with 0x82', async () => {
    const pub = await client(uid('tau'));
    pub.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } });
    const d = await pub.next('disconnect');
    expect(d.reasonCode).toBe(0x82);
    await pub.waitClosed();
  });

  it('uses outbound aliases for a subscriber that allows them (topicAliasMaximum 5)', async () => {
    const sub = await client(uid('toa'), { properties: { topicAliasMaximum: 5 } });
    expect(await subscribe(sub, [{ topic: 'lab/oa/#', qos: 0 }])).toEqual([0]);
    const pub = await client(uid('top'));
    await publish(pub, 'lab/oa/x', '1');
    await publish(pub, 'lab/oa/x', '2');
    await publish(pub, 'lab/oa/y', '3');
    const [a, b, c] = await publishes(sub, 3);
    expect(a!.topic).toBe('lab/oa/x');
    const alias = a!.properties?.topicAlias;
    expect(alias).toBeGreaterThanOrEqual(1);
    expect(alias).toBeLessThanOrEqual(5);
    expect(b!.topic).toBe('');
    expect(b!.properties?.topicAlias).toBe(alias);
    expect(text(b!)).toBe('2');
    expect(c!.topic).toBe('lab/oa/y');
    expect(c!.properties?.topicAlias).not.toBe(alias);
  });

  it('does not use up an outbound alias on a message dropped for the client\'s Maximum Packet Size', async () => {
    // The client never saw the dropped PUBLISH, so the alias was never established for it
    // [MQTT-3.3.2-8]: the next PUBLISH on that topic must still carry the topic name.
    const sub = await client(uid('toaps'), { properties: { topicAliasMaximum: 5, maximumPacketSize: 100 } });
    await subscribe(sub, [{ topic: 'lab/oaps/#', qos: 0 }]);
    const pub = await client(uid('toapsp'));
    await publish(pub, 'lab/oaps/x', Buffer.alloc(200, 0x61));
    await publish(pub, 'lab/oaps/x', 'small');
    const p = await sub.next('publish');
    expect(text(p)).toBe('small');
    expect(p.topic).toBe('lab/oaps/x');
  });
});

describe('message expiry', () => {
  it('drops a queued message whose expiry passed while the session was offline; a kept one carries what is left', async () => {
    const id = uid('exp');
    const sub = await client(id, { properties: { sessionExpiryInterval: 300 } });
    expect(await subscribe(sub, [{ topic: 'lab/exp/#', qos: 1 }])).toEqual([1]);
    sub.send({ cmd: 'disconnect', reasonCode: 0 });
    await sub.waitClosed();
    await until(() => t.gateway.broker.session(id)?.sink === null, 2000, 'session detached');

    const pub = await client(uid('expp'));
    expect(await publish(pub, 'lab/exp/short', 'short', { properties: { messageExpiryInterval: 1 } })).toBe(0);
    expect(await publish(pub, 'lab/exp/long', 'long', { properties: { messageExpiryInterval: 60 } })).toBe(0);
    await sleep(1500);

    const again = await RawClient.tcp(t.port('mqtt'), 5);
    open.push(again);
    const ack = await again.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
    expect(ack.reasonCode).toBe(0);
    expect(ack.sessionPresent).toBe(true);
    const p = await again.next('publish');
    expect([p.topic, text(p)]).toEqual(['lab/exp/long', 'long']);
    const left = p.properties?.messageExpiryInterval;
    expect(left).toBeLessThan(60);
    expect(left).toBeGreaterThanOrEqual(57);
    again.send({ cmd: 'puback', messageId: p.messageId! });
    await again.nothing('publish', 300);
    again.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  });

  it('forwards the expiry interval to an online subscriber', async () => {
    const sub = await client(uid('exo'));
    await subscribe(sub, [{ topic: 'lab/exo/#', qos: 0 }]);
    const pub = await client(uid('exop'));
    await publish(pub, 'lab/exo/a', 'x', { properties: { messageExpiryInterval: 30 } });
    const p = await sub.next('publish');
    expect(p.properties?.messageExpiryInterval).toBe(30);
  });
});

describe('application properties', () => {
  it('round-trips user properties, response topic, correlation data, content type and payload format', async () => {
    const sub = await client(uid('prs'));
    await subscribe(sub, [{ topic: 'lab/props/#', qos: 1 }]);
    const sub4 = await client(uid('prs4'), {}, 4);
    await subscribe(sub4, [{ topic: 'lab/props/#', qos: 0 }]);
    const pub = await client(uid('prp'));
    const properties = {
      userProperties: { a: '1', b: ['x', 'y'] },
      responseTopic: 'lab/props/reply',
      correlationData: Buffer.from([0, 1, 2, 0xff]),
      contentType: 'application/json',
      payloadFormatIndicator: true,
    };
    expect(await publish(pub, 'lab/props/q', '{"q":1}', { properties })).toBe(0);
    const p = await sub.next('publish');
    expect(p.topic).toBe('lab/props/q');
    expect(text(p)).toBe('{"q":1}');
    expect(p.qos).toBe(1);
    expect({ ...p.properties?.userProperties }).toEqual({ a: '1', b: ['x', 'y'] });
    expect(p.properties?.responseTopic).toBe('lab/props/reply');
    expect(Buffer.from(p.properties!.correlationData!).toString('hex')).toBe('000102ff');
    expect(p.properties?.contentType).toBe('application/json');
    expect(p.properties?.payloadFormatIndicator).toBe(true);
    // A 3.1.1 subscriber gets the same message without properties.
    const p4 = await sub4.next('publish');
    expect(text(p4)).toBe('{"q":1}');
    expect(p4.properties).toBeUndefined();
  });
});

describe('subscription options', () => {
  it('sends one delivery carrying both identifiers for two overlapping subscriptions', async () => {
    const sub = await client(uid('sid'));
    expect(await subscribe(sub, [{ topic: 'lab/sid/#', qos: 0 }], { subscriptionIdentifier: 1 })).toEqual([0]);
    expect(await subscribe(sub, [{ topic: 'lab/sid/+', qos: 1 }], { subscriptionIdentifier: 2 })).toEqual([1]);
    const pub = await client(uid('sidp'));
    await publish(pub, 'lab/sid/x', 'both');
    const p = await sub.next('publish');
    const ids = p.properties?.subscriptionIdentifier;
    expect(Array.isArray(ids) ? [...ids].sort() : ids).toEqual([1, 2]);
    // [MQTT-3.3.4-3..5] one copy, at the higher granted QoS.
    expect(p.qos).toBe(1);
    sub.send({ cmd: 'puback', messageId: p.messageId! });
    await sub.nothing('publish', 300);

    await publish(pub, 'lab/sid/x/y', 'deep');
    const q = await sub.next('publish');
    expect(text(q)).toBe('deep');
    expect(q.properties?.subscriptionIdentifier).toBe(1);
  });

  it('does not echo a publisher its own messages on a No Local subscription', async () => {
    const id = uid('nl');
    const c = await client(id);
    await subscribe(c, [{ topic: 'lab/nl/#', qos: 0, nl: true }]);
    await publish(c, 'lab/nl/a', 'own');
    await c.nothing('publish', 300);
    const other = await client(uid('nlo'));
    await publish(other, 'lab/nl/a', 'theirs');
    expect(text(await c.next('publish'))).toBe('theirs');

    // Control: without No Local the same client does get its own message.
    const echo = await client(uid('nle'));
    await subscribe(echo, [{ topic: 'lab/nle/#', qos: 0 }]);
    await publish(echo, 'lab/nle/a', 'own');
    expect(text(await echo.next('publish'))).toBe('own');
  });

  it('keeps the retain flag with Retain As Published and clears it otherwise', async () => {
    const rap = await client(uid('rap1'));
    await subscribe(rap, [{ topic: 'lab/rap/#', qos: 0, rap: true }]);
    const plain = await client(uid('rap0'));
    await subscribe(plain, [{ topic: 'lab/rap/#', qos: 0, rap: false }]);
    const pub = await client(uid('rapp'));
    await publish(pub, 'lab/rap/x', 'kept', { retain: true });
    expect((await rap.next('publish')).retain).toBe(true);
    expect((await plain.next('publish')).retain).toBe(false);
    await publish(pub, 'lab/rap/x', 'live');
    expect((await rap.next('publish')).retain).toBe(false);
    await publish(pub, 'lab/rap/x', '', { retain: true });
  });

  it('applies Retain Handling 0, 1 and 2', async () => {
    const pub = await client(uid('rhp'));
    await publish(pub, 'lab/rh/x', 'R', { retain: true });

    const rh0 = await client(uid('rh0'));
    await subscribe(rh0, [{ topic: 'lab/rh/#', qos: 0, rh: 0 }]);
    let p = await rh0.next('publish');
    expect([p.topic, text(p), p.retain]).toEqual(['lab/rh/x', 'R', true]);
    await subscribe(rh0, [{ topic: 'lab/rh/#', qos: 0, rh: 0 }]);
    p = await rh0.next('publish');
    expect([text(p), p.retain]).toEqual(['R', true]);

    const rh1 = await client(uid('rh1'));
    await subscribe(rh1, [{ topic: 'lab/rh/#', qos: 0, rh: 1 }]);
    p = await rh1.next('publish');
    expect([text(p), p.retain]).toEqual(['R', true]);
    await subscribe(rh1, [{ topic: 'lab/rh/#', qos: 0, rh: 1 }]);
    await rh1.nothing('publish', 300);

    const rh2 = await client(uid('rh2'));
    await subscribe(rh2, [{ topic: 'lab/rh/#', qos: 0, rh: 2 }]);
    await rh2.nothing('publish', 300);
    // It still is subscribed: live messages arrive.
    await publish(pub, 'lab/rh/x', 'live');
    expect(text(await rh2.next('publish'))).toBe('live');
    await publish(pub, 'lab/rh/x', '', { retain: true });
  });

  it('deletes a retained message when an empty retained payload is published', async () => {
    const pub = await client(uid('rdp'));
    await publish(pub, 'lab/rdel/x', 'v', { retain: true });
    const before = await client(uid('rd1'));
    await subscribe(before, [{ topic: 'lab/rdel/#', qos: 0 }]);
    const p = await before.next('publish');
    expect([text(p), p.retain]).toEqual(['v', true]);

    await publish(pub, 'lab/rdel/x', Buffer.alloc(0), { retain: true });
    expect([...t.gateway.broker.retainedMessages()].some((r) => r.topic === 'lab/rdel/x')).toBe(false);
    const after = await client(uid('rd2'));
    await subscribe(after, [{ topic: 'lab/rdel/#', qos: 0 }]);
    await after.nothing('publish', 300);
  });
});

describe('$SYS topics', () => {
  it('are not matched by # but by an explicit $SYS/# subscription', async () => {
    const t2 = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'lab' } } }, mqtt: { sysIntervalSeconds: 1 }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['#', '$SYS/#'] } } } });
    try {
      const port = t2.port('mqtt');
      const all = await client(uid('sysall'), {}, 5, port);
      expect(await subscribe(all, [{ topic: '#', qos: 0 }])).toEqual([0]);
      const sys = await client(uid('syssys'), {}, 5, port);
      expect(await subscribe(sys, [{ topic: '$SYS/#', qos: 0 }])).toEqual([0]);

      // Retained $SYS values come at once to the explicit subscription.
      const version = await sys.nextMatching((p) => p.cmd === 'publish' && p.topic === '$SYS/broker/version', 2000, '$SYS/broker/version');
      expect(text(version)).toBe('palisade 0.1.0');
      // A refresh (not retained on the way out) arrives within the 1 s interval.
      await sys.nextMatching((p) => p.cmd === 'publish' && p.topic.startsWith('$SYS/') && !p.retain, 2500, 'periodic $SYS publish');

      // `#` gets ordinary traffic…
      const pub = await client(uid('syspub'), {}, 5, port);
      await publish(pub, 'lab/sys/x', 'ordinary');
      const got = await all.nextMatching((p) => p.cmd === 'publish' && p.topic === 'lab/sys/x', 2000, 'lab/sys/x');
      expect(text(got)).toBe('ordinary');
      // …and, over more than one refresh, nothing under $SYS.
      await sleep(1200);
      const dollar = all.received.filter((p) => p.cmd === 'publish' && p.topic.startsWith('$'));
      expect(dollar.map((p) => (p.cmd === 'publish' ? p.topic : ''))).toEqual([]);
    } finally {
      await t2.stop();
    }
  });
});

describe('shared subscriptions', () => {
  it.each([5, 4] as const)('round-robins $share/g/... between two subscribers (v%s)', async (version) => {
    const topic = `lab/sh${version}/x`;
    const a = await client(uid(`sha${version}`), {}, version);
    const b = await client(uid(`shb${version}`), {}, version);
    expect(await subscribe(a, [{ topic: `$share/g/${topic}`, qos: 0 }])).toEqual([0]);
    expect(await subscribe(b, [{ topic: `$share/g/${topic}`, qos: 0 }])).toEqual([0]);
    const pub = await client(uid(`shp${version}`), {}, version);
    for (let i = 1; i <= 4; i++) await publish(pub, topic, `m${i}`);
    const ga = await publishes(a, 2);
    const gb = await publishes(b, 2);
    await Promise.all([a.nothing('publish', 300), b.nothing('publish', 300)]);
    expect([...ga, ...gb].map(text).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(ga.every((p) => p.topic === topic)).toBe(true);
  });

  it('disconnects No Local on a shared subscription with 0x82', async () => {
    const c = await client(uid('shnl'));
    c.send({ cmd: 'subscribe', messageId: mid(), subscriptions: [{ topic: '$share/g/lab/shnl/x', qos: 0, nl: true }] });
    const d = await c.next('disconnect');
    expect(d.reasonCode).toBe(0x82);
    await c.waitClosed();
    expect(c.received.filter((p) => p.cmd === 'suback')).toEqual([]);
  });
});

describe('flow control and limits the client sets', () => {
  it('does not send a client a message larger than its Maximum Packet Size (100), but sends smaller ones', async () => {
    const sub = await client(uid('mps'), { properties: { maximumPacketSize: 100 } });
    await subscribe(sub, [{ topic: 'lab/mps/#', qos: 1 }]);
    const pub = await client(uid('mpsp'));
    await publish(pub, 'lab/mps/x', Buffer.alloc(200, 0x61));
    await publish(pub, 'lab/mps/x', 'small');
    const p = await sub.next('publish');
    expect(text(p)).toBe('small');
    sub.send({ cmd: 'puback', messageId: p.messageId! });
    await sub.nothing('publish', 300);
    expect(sub.closed).toBe(false);
  });

  it('keeps at most Receive Maximum (2) QoS 1 publishes unacknowledged', async () => {
    const sub = await client(uid('rm'), { properties: { receiveMaximum: 2 } });
    await subscribe(sub, [{ topic: 'lab/rm/#', qos: 1 }]);
    const pub = await client(uid('rmp'));
    for (let i = 1; i <= 5; i++) await publish(pub, 'lab/rm/x', `m${i}`);
    const first = await publishes(sub, 2);
    expect(first.map(text)).toEqual(['m1', 'm2']);
    await sub.nothing('publish', 300);
    sub.send({ cmd: 'puback', messageId: first[0]!.messageId! });
    const third = await sub.next('publish');
    expect(text(third)).toBe('m3');
    await sub.nothing('publish', 300);
    for (const p of [first[1]!, third]) sub.send({ cmd: 'puback', messageId: p.messageId! });
    const rest = await publishes(sub, 2);
    expect(rest.map(text)).toEqual(['m4', 'm5']);
    expect(first.every((p) => p.qos === 1 && p.messageId !== undefined)).toBe(true);
    expect(first[0]!.messageId).not.toBe(first[1]!.messageId);
  });
});

describe('authorisation and reason codes', () => {
  it('answers a denied QoS 1 publish with PUBACK 0x87 and records mqtt.publish_denied', async () => {
    const id = uid('den');
    const sub = await client(uid('densub'));
    await subscribe(sub, [{ topic: 'lab/#', qos: 0 }]);
    const c = await client(id);
    expect(await publish(c, 'other/denied', 'no')).toBe(0x87);
    c.send({ cmd: 'publish', topic: 'other/denied', payload: Buffer.from('q2'), qos: 2, messageId: 4242, retain: false, dup: false });
    const rec = await c.next('pubrec');
    expect([rec.messageId, rec.reasonCode]).toEqual([4242, 0x87]);
    expect(c.closed).toBe(false);
    await t.gateway.events.flush();
    const events = await t.gateway.store.events.list({ type: 'mqtt.publish_denied' });
    const mine = events.filter((e) => e.detail.clientId === id);
    expect(mine.length).toBe(2);
    expect(mine[0]!.detail.topic).toBe('other/denied');
    expect(mine[0]!.principal).toBe(id);
  });

  it('answers a denied subscription with 0x87 (v5) and 0x80 (3.1.1), next to a granted one', async () => {
    const c5 = await client(uid('dsub5'));
    expect(await subscribe(c5, [{ topic: 'other/#', qos: 1 }, { topic: 'lab/ok/#', qos: 1 }])).toEqual([0x87, 1]);
    const c4 = await client(uid('dsub4'), {}, 4);
    expect(await subscribe(c4, [{ topic: 'other/#', qos: 1 }, { topic: 'lab/ok/#', qos: 1 }])).toEqual([0x80, 1]);
  });

  it('answers an invalid filter (a/#/b) with 0x8F', async () => {
    const c = await client(uid('badf'));
    expect(await subscribe(c, [{ topic: 'a/#/b', qos: 0 }, { topic: 'lab/x+/y', qos: 0 }, { topic: 'lab/badf/#', qos: 0 }])).toEqual([0x8f, 0x8f, 0]);
    const c4 = await client(uid('badf4'), {}, 4);
    expect(await subscribe(c4, [{ topic: 'a/#/b', qos: 0 }])).toEqual([0x80]);
  });

  it('answers UNSUBSCRIBE of a filter that was not subscribed with 0x11', async () => {
    const c = await client(uid('uns'));
    await subscribe(c, [{ topic: 'lab/uns/a', qos: 0 }]);
    const messageId = mid();
    c.send({ cmd: 'unsubscribe', messageId, unsubscriptions: ['lab/uns/a', 'lab/uns/never'] });
    const ack = await c.next('unsuback');
    expect(ack.messageId).toBe(messageId);
    expect(ack.granted).toEqual([0x00, 0x11]);
    const again = mid();
    c.send({ cmd: 'unsubscribe', messageId: again, unsubscriptions: ['lab/uns/a'] });
    expect((await c.next('unsuback')).granted).toEqual([0x11]);
  });
});
