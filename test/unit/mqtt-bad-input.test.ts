/**
 * Hostile and broken input on the MQTT listener. Each case must end that one connection (v5:
 * with a DISCONNECT naming the reason), leave a security event, and never take the gateway
 * down: after each, a fresh client still connects and round-trips a message.
 *
 * The connection under test is a `WireClient` that records every byte the server sends and
 * parses them leniently, so a broken answer from the broker shows up as bytes in the failure
 * instead of an exception in the test's own parser.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

const MAX_PACKET = 1024;
let t: TestGateway;
let seq = 0;
const open: Array<{ destroy(): void }> = [];

beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'lab' } } }, mqtt: { maxPacketSize: MAX_PACKET }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } } });
});
afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});
afterAll(async () => t.stop());

const uid = (prefix: string): string => `${prefix}-${++seq}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class WireClient {
  readonly socket: Socket;
  readonly source: string;
  readonly chunks: Buffer[] = [];
  readonly packets: Packet[] = [];
  readonly parseErrors: string[] = [];
  #closed = false;
  #onClose: Array<() => void> = [];

  private constructor(socket: Socket, version: 4 | 5) {
    this.socket = socket;
    this.source = `127.0.0.1:${socket.localPort}`;
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (p: Packet) => this.packets.push(p));
    parser.on('error', (e: Error) => this.parseErrors.push(e.message));
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      parser.parse(d);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      for (const f of this.#onClose.splice(0)) f();
    });
  }

  static async open(port: number, version: 4 | 5 = 5): Promise<WireClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const w = new WireClient(socket, version);
    open.push(w);
    return w;
  }

  /** Opens and completes CONNECT; returns with the CONNACK consumed. */
  static async connected(port: number, clientId: string, version: 4 | 5 = 5): Promise<WireClient> {
    const w = await WireClient.open(port, version);
    w.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId }, { protocolVersion: version }));
    const ack = await w.next('connack');
    expect(ack.cmd === 'connack' && (ack.reasonCode ?? ack.returnCode)).toBe(0);
    w.packets.splice(0);
    w.chunks.splice(0);
    return w;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytes(): string {
    return Buffer.concat(this.chunks).toString('hex');
  }

  write(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  send(p: Packet, version: 4 | 5 = 5): void {
    this.write(mqttPacket.generate(p, { protocolVersion: version }));
  }

  async next<C extends Packet['cmd']>(cmd: C, timeoutMs = 2000): Promise<Extract<Packet, { cmd: C }>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0] as Extract<Packet, { cmd: C }>;
      if (Date.now() > end) throw new Error(`no ${cmd} within ${timeoutMs} ms; server sent: ${this.bytes || '(nothing)'}${this.#closed ? ' and closed' : ''}`);
      await sleep(10);
    }
  }

  waitClosed(timeoutMs = 2000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms; server sent: ${this.bytes || '(nothing)'}`)), timeoutMs);
      this.#onClose.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A v5 DISCONNECT with the reason, then the close. */
async function expectDisconnect(w: WireClient, reasonCode: number): Promise<void> {
  const d = await w.next('disconnect');
  expect(d.reasonCode, `DISCONNECT reason; server sent ${w.bytes}`).toBe(reasonCode);
  await w.waitClosed();
}

async function eventsFrom(source: string, types: readonly string[]): Promise<Array<{ type: string; detail: Record<string, unknown> }>> {
  await t.gateway.events.flush();
  const out: Array<{ type: string; detail: Record<string, unknown> }> = [];
  for (const type of types) {
    for (const e of await t.gateway.store.events.list({ type })) if (e.source === source) out.push({ type: e.type, detail: e.detail });
  }
  return out;
}

/** The gateway still serves: a fresh subscriber gets a fresh publisher's message. */
async function roundTrip(): Promise<void> {
  const id = uid('rt');
  const sub = await RawClient.connected(t.port('mqtt'), { clientId: `${id}-s` }, 5);
  const pub = await RawClient.connected(t.port('mqtt'), { clientId: `${id}-p` }, 5);
  open.push(sub, pub);
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `lab/${id}/#`, qos: 1 }] });
  await sub.next('suback');
  pub.send({ cmd: 'publish', topic: `lab/${id}/x`, payload: Buffer.from('alive'), qos: 1, messageId: 2, retain: false, dup: false });
  expect((await pub.next('puback')).reasonCode ?? 0).toBe(0);
  const p = await sub.next('publish');
  expect(Buffer.from(p.payload).toString()).toBe('alive');
  sub.destroy();
  pub.destroy();
}

/** Connections still open on the gateway once those of earlier tests have gone. */
async function settledConnectionCount(): Promise<number> {
  const end = Date.now() + 1000;
  while (t.gateway.mqtt.connectionCount > 0 && Date.now() < end) await sleep(20);
  return t.gateway.mqtt.connectionCount;
}

/** `lab/q` as an MQTT string. */
const TOPIC = [0x00, 0x05, 0x6c, 0x61, 0x62, 0x2f, 0x71];

describe('malformed packets end the connection with the right reason', () => {
  it('SUBSCRIBE with reserved fixed-header flags 0000 instead of 0010 → 0x81', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('subflags'));
    // 0x80 instead of 0x82; id 1, no properties, filter lab/q, options 0.
    const body = [0x00, 0x01, 0x00, ...TOPIC, 0x00];
    w.write([0x80, body.length, ...body]);
    await expectDisconnect(w, 0x81);
    expect(w.packets.filter((p) => p.cmd === 'suback')).toEqual([]);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet']);
    expect(ev.map((e) => e.detail.why)).toEqual([expect.stringMatching(/header flag/i)]);
    await roundTrip();
  });

  it('CONNECT with the reserved flag bit 0 set → closed, never accepted', async () => {
    const w = await WireClient.open(t.port('mqtt'), 5);
    // flags 0x03 = clean start + reserved bit; keep alive 0; no properties; client id "a".
    w.write([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61]);
    await w.waitClosed();
    // The server may say 0x81 in a CONNACK first (§4.13.1); it must not accept.
    for (const p of w.packets) expect(p.cmd === 'connack' ? p.reasonCode : p.cmd).toBe(0x81);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet']);
    expect(ev.map((e) => e.detail.why)).toEqual([expect.stringMatching(/bit 0/)]);
    await roundTrip();
  });

  it('a remaining length encoded in 5 bytes → 0x81', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('varint'));
    w.write([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]);
    await expectDisconnect(w, 0x81);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet', 'mqtt.disconnect']);
    expect(ev).toContainEqual({ type: 'mqtt.malformed_packet', detail: expect.objectContaining({ why: 'bad remaining length' }) as unknown });
    expect(ev).toContainEqual({ type: 'mqtt.disconnect', detail: expect.objectContaining({ reasonCode: 0x81 }) as unknown });
    await roundTrip();
  });

  it('PUBLISH topic with ill-formed UTF-8 (C3 28) → 0x81', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('utf8'));
    // topic "\xC3(" (2 bytes), QoS 0, no properties, payload "x".
    const body = [0x00, 0x02, 0xc3, 0x28, 0x00, 0x78];
    w.write([0x30, body.length, ...body]);
    await expectDisconnect(w, 0x81);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet']);
    expect(ev.map((e) => e.detail.why)).toEqual(['topic is not valid UTF-8']);
    await roundTrip();
  });

  it.each(['lab/+/x', 'lab/#'])('PUBLISH topic name with a wildcard (%s) → 0x90', async (topic) => {
    const w = await WireClient.connected(t.port('mqtt'), uid('wild'));
    w.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false });
    await expectDisconnect(w, 0x90);
    expect(w.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    const ev = await eventsFrom(w.source, ['mqtt.disconnect']);
    expect(ev.map((e) => e.detail.reasonCode)).toEqual([0x90]);
    await roundTrip();
  });

  it('PUBLISH with QoS 3 in the fixed header → 0x81 (v5), plain close (3.1.1)', async () => {
    const body = [...TOPIC, 0x00, 0x01, 0x00, 0x78];
    const w = await WireClient.connected(t.port('mqtt'), uid('qos3'));
    w.write([0x36, body.length, ...body]);
    await expectDisconnect(w, 0x81);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet']);
    expect(ev.map((e) => e.detail.why)).toEqual([expect.stringMatching(/QoS/)]);

    const w4 = await WireClient.connected(t.port('mqtt'), uid('qos3v4'), 4);
    const body4 = [...TOPIC, 0x00, 0x01, 0x78];
    w4.write([0x36, body4.length, ...body4]);
    await w4.waitClosed();
    // 3.1.1 has no server DISCONNECT: nothing is written before the close.
    expect(w4.bytes).toBe('');
    await roundTrip();
  });

  it('PUBLISH QoS 1 that ends before its packet identifier → 0x81, not routed, not acknowledged', async () => {
    const sub = await RawClient.connected(t.port('mqtt'), { clientId: uid('noid-sub') }, 5);
    open.push(sub);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/q', qos: 1 }] });
    await sub.next('suback');
    const w = await WireClient.connected(t.port('mqtt'), uid('noid'));
    // mqtt-packet will not encode a QoS 1 PUBLISH without an id: topic lab/q and nothing else.
    w.write([0x32, TOPIC.length, ...TOPIC]);
    await expectDisconnect(w, 0x81);
    expect(w.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    await sub.nothing('publish', 300);
    const ev = await eventsFrom(w.source, ['mqtt.malformed_packet']);
    expect(ev.length).toBe(1);
    await roundTrip();
  });

  it('PUBLISH QoS 1 with packet identifier 0 [MQTT-2.2.1-3] → protocol error or malformed', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('id0'));
    w.send({ cmd: 'publish', topic: 'lab/q', payload: Buffer.from('x'), qos: 1, messageId: 0, retain: false, dup: false });
    const d = await w.next('disconnect');
    expect([0x81, 0x82]).toContain(d.reasonCode);
    await w.waitClosed();
    expect(w.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    await roundTrip();
  });

  it.each([
    ['correlation data', 0x09],
    ['response topic', 0x08],
    ['content type', 0x03],
  ])('PUBLISH whose %s property runs past the end of the packet → 0x81, gateway survives', async (_name, propertyId) => {
    // A v5 subscriber makes the broker re-encode the properties of what it routes.
    const sub = await RawClient.connected(t.port('mqtt'), { clientId: uid('trunc-sub') }, 5);
    open.push(sub);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/q', qos: 0 }] });
    await sub.next('suback');
    const w = await WireClient.connected(t.port('mqtt'), uid('trunc'));
    // Properties length 3: the property id and a 2-byte length of 255 with no data behind it.
    const body = [...TOPIC, 0x03, propertyId, 0x00, 0xff, 0x78];
    w.write([0x30, body.length, ...body]);
    await expectDisconnect(w, 0x81);
    await sub.nothing('publish', 200);
    await roundTrip();
  });
});

describe('malformed CONNECT', () => {
  it('a will property that runs past the end of the packet is not accepted, and nothing breaks later', async () => {
    const sub = await RawClient.connected(t.port('mqtt'), { clientId: uid('will-sub') }, 5);
    open.push(sub);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/trwill', qos: 0 }] });
    await sub.next('suback');
    const id = Buffer.from(uid('trwill'));
    const str = (b: Buffer): number[] => [b.length >> 8, b.length & 0xff, ...b];
    const body = [
      ...str(Buffer.from('MQTT')), 0x05, 0x06 /* will + clean start */, 0x00, 0x00, 0x00 /* no properties */,
      ...str(id),
      0x03, 0x03, 0x00, 0xff /* will properties: content type of 255 bytes, none present */,
      ...str(Buffer.from('lab/trwill')), ...str(Buffer.from('bye')),
    ];
    const w = await WireClient.open(t.port('mqtt'), 5);
    w.write([0x10, body.length, ...body]);
    await sleep(200);
    // Malformed: closed, at most after a CONNACK 0x81 (§4.13.1).
    for (const p of w.packets) expect(p.cmd === 'connack' ? p.reasonCode : p.cmd).toBe(0x81);
    w.destroy();
    await sleep(200);
    await roundTrip();
  });
});

describe('packets above mqtt.maxPacketSize (1024)', () => {
  it('are refused with 0x95 and mqtt.packet_too_large', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('big'));
    const frame = mqttPacket.generate({ cmd: 'publish', topic: 'lab/big', payload: Buffer.alloc(2000, 0x61), qos: 0, retain: false, dup: false }, { protocolVersion: 5 });
    w.write(frame);
    await expectDisconnect(w, 0x95);
    const ev = await eventsFrom(w.source, ['mqtt.packet_too_large']);
    expect(ev.map((e) => e.detail.length)).toEqual([frame.length]);
    await roundTrip();
  });

  it('are refused from the fixed header alone, before the body is sent', async () => {
    const w = await WireClient.connected(t.port('mqtt'), uid('bighdr'));
    w.write([0x30, 0xd0, 0x0f]); // remaining length 2000, no body follows
    await expectDisconnect(w, 0x95);
    const ev = await eventsFrom(w.source, ['mqtt.packet_too_large']);
    expect(ev.map((e) => e.detail.length)).toEqual([2003]);
    await roundTrip();
  });

  it('close a connection whose oversized first packet is the CONNECT', async () => {
    const w = await WireClient.open(t.port('mqtt'), 5);
    w.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'x'.repeat(40), password: Buffer.alloc(1500), username: 'u' }, { protocolVersion: 5 }));
    await w.waitClosed();
    expect(w.packets.filter((p) => p.cmd === 'connack' && p.reasonCode === 0)).toEqual([]);
    expect((await eventsFrom(w.source, ['mqtt.packet_too_large'])).length).toBe(1);
    await roundTrip();
  });

  it('accept a packet of exactly 1024 bytes (announced in CONNACK)', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    open.push(c);
    const ack = await c.connect({ clientId: uid('exact') });
    expect(ack.properties?.maximumPacketSize).toBe(MAX_PACKET);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/exact', qos: 0 }] });
    await c.next('suback');
    const head = mqttPacket.generate({ cmd: 'publish', topic: 'lab/exact', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, { protocolVersion: 5 });
    // 1 header byte + 2 length bytes + (topic + properties) + payload = 1024.
    const payload = Buffer.alloc(MAX_PACKET - (head.length - 2 + 3), 0x62);
    const frame = mqttPacket.generate({ cmd: 'publish', topic: 'lab/exact', payload, qos: 0, retain: false, dup: false }, { protocolVersion: 5 });
    expect(frame.length).toBe(MAX_PACKET);
    c.writeRaw(frame);
    const p = await c.next('publish');
    expect(Buffer.from(p.payload).length).toBe(payload.length);
    expect(c.closed).toBe(false);
  });
});

describe('streams that stop or make no sense', () => {
  it('a truncated packet followed by close leaves nothing behind', async () => {
    const before = await settledConnectionCount();
    const w = await WireClient.open(t.port('mqtt'), 5);
    w.write([0x10, 0x20, 0x00, 0x04, 0x4d, 0x51]); // half a CONNECT
    w.socket.end();
    await w.waitClosed();

    const id = uid('trunc-after');
    const c = await WireClient.connected(t.port('mqtt'), id);
    c.write([0x30, 0x10, ...TOPIC]); // half a PUBLISH
    c.socket.end();
    await c.waitClosed();
    const end = Date.now() + 2000;
    while ((t.gateway.mqtt.connectionCount > before || t.gateway.broker.session(id)) && Date.now() < end) await sleep(20);
    expect(t.gateway.mqtt.connectionCount).toBe(before);
    expect(t.gateway.broker.session(id)).toBeUndefined();
    await roundTrip();
  });

  it('random bytes as the first bytes of a connection are closed or ignored, and the gateway keeps serving (fast-check)', async () => {
    const before = await settledConnectionCount();
    const closedSources: string[] = [];
    const garbage = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      // Biased towards packet types the server parses first.
      fc.tuple(fc.constantFrom(0x10, 0x11, 0x30, 0x32, 0x82, 0xc0, 0xe0, 0xf0), fc.uint8Array({ maxLength: 64 })).map(([h, rest]) => Uint8Array.from([h, rest.length, ...rest])),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const w = await WireClient.open(t.port('mqtt'), 5);
        w.write(Buffer.from(bytes));
        await w.waitClosed(100).catch(() => undefined);
        // Whatever it is, it is never accepted: at most a refusing CONNACK comes back.
        for (const p of w.packets) expect(p.cmd === 'connack' && (p.reasonCode ?? p.returnCode) !== 0).toBe(true);
        if (w.closed) closedSources.push(w.source);
        w.destroy();
      }),
      { numRuns: 50 },
    );
    const end = Date.now() + 3000;
    while (t.gateway.mqtt.connectionCount > before && Date.now() < end) await sleep(20);
    expect(t.gateway.mqtt.connectionCount).toBe(before);
    // Every connection the server closed left a security event that says why.
    const types = ['mqtt.malformed_packet', 'mqtt.protocol_violation', 'mqtt.packet_too_large', 'mqtt.connect_refused', 'mqtt.disconnect'];
    await t.gateway.events.flush();
    const sources = new Set<string>();
    for (const type of types) for (const e of await t.gateway.store.events.list({ type })) if (e.source) sources.add(e.source);
    expect(closedSources.length).toBeGreaterThan(0);
    expect(closedSources.filter((s) => !sources.has(s))).toEqual([]);
    await roundTrip();
  }, 20_000);
});
