/**
 * Message rate limits (issue 5, point 2): token buckets per device and per segment, and what
 * each protocol does over the limit — MQTT stops reading (QoS 1/2 slowed, nothing lost), drops
 * QoS 0, and disconnects with 0x96 when it lasts; HTTP answers 429 with Retry-After; CoAP 4.29
 * with Max-Age. Limits come from config and the segment's policy. Real gateway, real sockets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Code, Option } from '../../src/protocols/coap/constants.ts';
import { uintOf } from '../../src/protocols/coap/codec.ts';
import { KeyedTokenBuckets } from '../../src/shield/rate/keyed-buckets.ts';
import { MessageRateLimiter } from '../../src/shield/rate/message-rate-limiter.ts';
import { TokenBucket } from '../../src/shield/rate/token-bucket.ts';
import { TestCoapClient } from './helpers/coap-client.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';

const limits = (mps: number, burst: number) => ({ messagesPerSecond: mps, messagesBurst: burst, bytesPerSecond: 1e9, bytesBurst: 1e9 });

describe('token buckets', () => {
  it('never lets more than burst + rate × elapsed through tryTake, whatever the arrival pattern', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 20 }), (gaps, rate, burst) => {
      const b = new TokenBucket(rate, burst, 0);
      let now = 0;
      let passed = 0;
      for (const g of gaps) {
        now += g;
        if (b.tryTake(1, now)) passed++;
      }
      expect(passed).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-9);
    }));
  });

  it('take() goes into debt and says how long until it is paid', () => {
    const b = new TokenBucket(10, 2, 0);
    expect(b.take(1, 0)).toBe(0);
    expect(b.take(1, 0)).toBe(0);
    expect(b.take(1, 0)).toBe(100);
    expect(b.take(1, 0)).toBe(200);
    expect(b.take(1, 200)).toBe(100);
  });

  it('limits a segment as a whole, and a device inside it, and reports a sustained episode', () => {
    const l = new MessageRateLimiter({ device: limits(100, 100), segment: limits(10, 10), segments: { lab: { segment: null, device: limits(5, 5) } }, sustainedMs: 1000 });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (l.check(`d${i}`, 'fleet', 10, false, 0).ok) ok++;
    expect(ok).toBe(10); // 20 devices, one message each, the segment allows 10
    const T = 10_000;
    let lab = 0;
    for (let i = 0; i < 20; i++) if (l.check('x', 'lab', 10, false, T).ok) lab++;
    expect(lab).toBe(5); // the lab override: 5 per device, no segment cap
    expect(l.check('x', 'lab', 10, false, T + 500).ok).toBe(true); // 2.5 tokens back after 500 ms
    // Kept over the limit from T on (some messages still fit the rate): refusals become
    // `sustained` once sustainedMs has passed, not before.
    const seen: Array<{ at: number; sustained: boolean }> = [];
    for (let ms = T + 500; ms < T + 1300; ms += 10) {
      const v = l.check('x', 'lab', 10, false, ms);
      if (!v.ok) seen.push({ at: ms, sustained: v.sustained });
    }
    expect(seen.filter((v) => v.at < T + 1000).every((v) => !v.sustained)).toBe(true);
    expect(seen.filter((v) => v.at >= T + 1000).every((v) => v.sustained)).toBe(true);
    expect(seen.some((v) => v.sustained)).toBe(true);
    // A quiet second ends the episode: the next excess starts a new one.
    for (let i = 0; i < 6; i++) l.check('x', 'lab', 10, false, T + 5000);
    expect(l.check('x', 'lab', 10, false, T + 5000)).toMatchObject({ ok: false, sustained: false });
  });
});

describe('over the limit, per protocol', () => {
  let t: TestGateway;
  let dev: DeviceCreds;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestGateway({
      listeners: { mqtt: { anonymous: { segment: 'slow' } }, coap: { anonymous: { segment: 'slow' } } },
      shield: { rateLimit: { sustainedSeconds: 0.6 } },
      policy: {
        segments: {
          slow: { publish: ['slow/#'], subscribe: ['slow/#'], rateLimit: { device: limits(20, 5) } },
          fleet: { publish: ['fleet/#'], subscribe: ['fleet/#'], rateLimit: { device: limits(2, 2) } },
        },
      },
    });
    dev = await addDevice(t, 'meter-1', 'fleet');
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.end(true);
  });
  afterAll(async () => {
    await t.stop();
  });

  async function connect(clientId: string, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
    const c = mqtt.connect(`mqtt://127.0.0.1:${t.port('mqtt')}`, { clientId, protocolVersion, reconnectPeriod: 0 });
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    return c;
  }

  it('QoS 1 over the limit is slowed, not lost: every message arrives, the sender was held back', async () => {
    const sub = await connect('sub-q1');
    await sub.subscribeAsync('slow/q1', { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_t, p) => got.push(p.toString()));
    const pub = await connect('pub-q1');
    const started = Date.now();
    // 15 messages at 20/s with a burst of 5: at least (15 - 5) / 20 s = 500 ms of throttling.
    await Promise.all(Array.from({ length: 15 }, (_, i) => pub.publishAsync('slow/q1', `m${i}`, { qos: 1 })));
    const elapsed = Date.now() - started;
    for (let i = 0; i < 50 && got.length < 15; i++) await sleep(20);
    expect(got.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `m${i}`).sort());
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(pub.connected).toBe(true);
    await t.gateway.events.flush();
    const ev = await t.gateway.store.events.list({ type: 'shield.rate_limited', limit: 100 });
    expect(ev.some((e) => e.detail.protocol === 'mqtt')).toBe(true);
  });

  it('QoS 0 over the limit is dropped', async () => {
    const sub = await connect('sub-q0');
    await sub.subscribeAsync('slow/q0', { qos: 0 });
    let got = 0;
    sub.on('message', () => got++);
    const pub = await connect('pub-q0', 4);
    for (let i = 0; i < 40; i++) pub.publish('slow/q0', `m${i}`, { qos: 0 });
    await sleep(400);
    expect(got).toBeGreaterThanOrEqual(5);
    expect(got).toBeLessThan(40);
  });

  it('kept over the limit past sustainedSeconds, an MQTT 5 client is disconnected with 0x96', async () => {
    const pub = await connect('pub-flood');
    const disconnect = new Promise<number | undefined>((resolve) => pub.once('disconnect', (p) => resolve(p.reasonCode)));
    const flood = setInterval(() => {
      for (let i = 0; i < 10; i++) pub.publish('slow/flood', 'x', { qos: 1 });
    }, 10);
    try {
      const code = await Promise.race([disconnect, sleep(5000).then(() => -1)]);
      expect(code).toBe(0x96);
    } finally {
      clearInterval(flood);
    }
    await t.gateway.events.flush();
    const ev = await t.gateway.store.events.list({ type: 'shield.rate_sustained', limit: 10 });
    expect(ev.length).toBeGreaterThan(0);
  });

  it('HTTP publish over the limit answers 429 with Retry-After', async () => {
    const call = () => httpsCall({ host: '127.0.0.1', port: t.port('https'), servername: 'localhost', method: 'POST', path: '/api/v1/publish/fleet/meter-1/power', ca: dev.ca, cert: dev.cert, key: dev.key, agent: false, headers: { 'content-type': 'application/octet-stream' } }, '42');
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await call();
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers['retry-after'];
    }
    expect(statuses.slice(0, 2).every((s) => s >= 200 && s < 300)).toBe(true);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('CoAP POST over the limit answers 4.29 with Max-Age', async () => {
    const c = await TestCoapClient.open(t.port('coap'));
    try {
      const codes: number[] = [];
      let maxAge: number | undefined;
      for (let i = 0; i < 8; i++) {
        const r = await c.request(Code.POST, '/ps/slow/coap', { payload: 'v' });
        codes.push(r.code);
        if (r.code === Code.TOO_MANY_REQUESTS) maxAge = uintOf(r, Option.MAX_AGE);
      }
      expect(codes.slice(0, 5).every((x) => x >> 5 === 2)).toBe(true);
      expect(codes).toContain(Code.TOO_MANY_REQUESTS);
      expect(maxAge).toBeGreaterThanOrEqual(1);
    } finally {
      c.close();
    }
  });
});

describe('KeyedTokenBuckets (per-address connection and DNS response rates)', () => {
  it('sweeps idle buckets at sweepAt, and past maxKeys the oldest busy ones make room; a kept key keeps its debt', () => {
    const t = new KeyedTokenBuckets(1, 1, { sweepAt: 3, maxKeys: 4 });
    for (const k of ['a', 'b', 'c']) expect(t.tryTake(k, 1, 0)).toBe(true);
    // At 1 token/s all three refill by t=1000: swept when 'd' arrives.
    expect(t.tryTake('d', 1, 1000)).toBe(true);
    expect(t.size).toBe(1);
    for (const k of ['e', 'f', 'g', 'h', 'i']) expect(t.tryTake(k, 1, 1000)).toBe(true);
    // All busy: bounded at maxKeys by forgetting the oldest ('d', 'e').
    expect(t.size).toBe(4);
    expect(t.tryTake('i', 1, 1000)).toBe(false);
    expect(t.tryTake('d', 1, 1000)).toBe(true);
  });
});
