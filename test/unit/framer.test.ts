/**
 * The framer splits a byte stream into whole MQTT control packets before any parsing. Whatever
 * way the stream is cut into chunks, the same frames must come out (the byByteTest idea of
 * nats.js), and a packet announcing more than the maximum must be refused from its header.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Framer, type FrameResult } from '../../src/protocols/mqtt/framer.ts';

const UNLIMITED = 268_435_455;

/** Calls next() until the framer needs more bytes or reports an error; returns what it saw. */
function drain(f: Framer): { frames: Buffer[]; last: FrameResult } {
  const frames: Buffer[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const r = f.next();
    if (r.kind !== 'frame') return { frames, last: r };
    frames.push(r.frame);
  }
  throw new Error('framer did not stop');
}

const hex = (bufs: readonly Buffer[]): string[] => bufs.map((b) => b.toString('hex'));

function gen(p: Packet, version: 4 | 5 = 4): Buffer {
  return mqttPacket.generate(p, { protocolVersion: version });
}

/** Packets of every shape and size class of remaining length (1, 2 and 3 byte varints). */
const fixed: Buffer[] = [
  gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'framer-1', username: 'u', password: Buffer.from('p') }),
  gen({ cmd: 'pingreq' }),
  gen({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, messageId: 7, retain: false, dup: false }),
  gen({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(300, 0x41), qos: 0, retain: true, dup: false }),
  gen({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'x/#', qos: 1 }, { topic: 'y/+', qos: 2 }] }),
  gen({ cmd: 'publish', topic: 'huge', payload: Buffer.alloc(20_000, 0x42), qos: 2, messageId: 65535, retain: false, dup: true }),
  gen({ cmd: 'puback', messageId: 7 }),
  gen({ cmd: 'disconnect' }),
];

describe('Framer', () => {
  it('sanity: the fixture covers 1, 2 and 3 byte remaining lengths', () => {
    const varintBytes = (b: Buffer): number => {
      let n = 1;
      while ((b[n]! & 0x80) !== 0) n++;
      return n;
    };
    expect(new Set(fixed.map(varintBytes))).toEqual(new Set([1, 2, 3]));
  });

  it('yields the same frames fed whole as fed byte by byte, each exactly at its last byte', () => {
    const stream = Buffer.concat(fixed);
    const whole = new Framer(UNLIMITED);
    whole.push(stream);
    const a = drain(whole);
    expect(a.last.kind).toBe('need-more');
    expect(hex(a.frames)).toEqual(hex(fixed));
    expect(whole.buffered).toBe(0);

    const ends = new Set<number>();
    let off = 0;
    for (const p of fixed) ends.add((off += p.length) - 1);

    const byByte = new Framer(UNLIMITED);
    const frames: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      byByte.push(stream.subarray(i, i + 1));
      const r = drain(byByte);
      expect(r.last.kind).toBe('need-more');
      // A frame comes out on the byte that completes a packet, and on no other byte.
      expect(r.frames.length, `after byte ${i}`).toBe(ends.has(i) ? 1 : 0);
      frames.push(...r.frames);
    }
    expect(hex(frames)).toEqual(hex(fixed));
    expect(byByte.buffered).toBe(0);
  });

  it('yields the same frames for a split at every point of the stream', () => {
    const packets = fixed.slice(0, 5);
    const stream = Buffer.concat(packets);
    for (let i = 0; i <= stream.length; i++) {
      const f = new Framer(UNLIMITED);
      f.push(stream.subarray(0, i));
      const first = drain(f);
      expect(first.last.kind).toBe('need-more');
      f.push(stream.subarray(i));
      const second = drain(f);
      expect(second.last.kind).toBe('need-more');
      expect(hex([...first.frames, ...second.frames]), `split at ${i}`).toEqual(hex(packets));
      expect(f.buffered).toBe(0);
    }
  });

  it('yields the same frames for random packet sequences cut at random points (fast-check)', () => {
    const topic = fc.string({ minLength: 1, maxLength: 30 });
    const qos = fc.constantFrom<0 | 1 | 2>(0, 1, 2);
    const id = fc.integer({ min: 1, max: 65535 });
    const payload = fc.oneof(
      { weight: 5, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
      { weight: 1, arbitrary: fc.integer({ min: 16_380, max: 17_000 }).map((n) => Buffer.alloc(n, 0x5a)) },
    );
    type Generated = { p: Packet; v: 4 | 5 };
    const packet: fc.Arbitrary<Generated> = fc.oneof(
      fc.record({ topic, payload, qos, id, retain: fc.boolean(), dup: fc.boolean(), v: fc.constantFrom<4 | 5>(4, 5), user: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }) }).map(({ topic: t, payload: pl, qos: q, id: mid, retain, dup, v, user }) => {
        const p: Packet = { cmd: 'publish', topic: t, payload: pl, qos: q, retain, dup: q > 0 && dup };
        if (q > 0) p.messageId = mid;
        if (v === 5 && user !== undefined) p.properties = { userProperties: { k: user }, contentType: 'x' };
        return { p, v };
      }),
      fc.record({ id, subs: fc.array(fc.record({ topic, qos }), { minLength: 1, maxLength: 4 }) }).map(({ id: mid, subs }): Generated => ({ p: { cmd: 'subscribe', messageId: mid, subscriptions: subs }, v: 4 })),
      fc.record({ id, topics: fc.array(topic, { minLength: 1, maxLength: 4 }) }).map(({ id: mid, topics }): Generated => ({ p: { cmd: 'unsubscribe', messageId: mid, unsubscriptions: topics }, v: 4 })),
      fc.record({ id, cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp') }).map(({ id: mid, cmd }): Generated => ({ p: { cmd, messageId: mid }, v: 4 })),
      fc.constantFrom<Generated>({ p: { cmd: 'pingreq' }, v: 4 }, { p: { cmd: 'pingresp' }, v: 4 }, { p: { cmd: 'disconnect' }, v: 4 }),
      fc.record({ clientId: fc.string({ maxLength: 23 }), keepalive: fc.integer({ min: 0, max: 65535 }) }).map(({ clientId, keepalive }): Generated => ({ p: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive, clientId }, v: 4 })),
    );
    const scenario = fc
      .array(packet, { minLength: 1, maxLength: 8 })
      .map((ps) => ps.map(({ p, v }) => gen(p, v)))
      .chain((bufs) => {
        const total = bufs.reduce((n, b) => n + b.length, 0);
        return fc.record({ bufs: fc.constant(bufs), cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, total - 1) }), { maxLength: 12 }), drainEach: fc.boolean() });
      });

    fc.assert(
      fc.property(scenario, ({ bufs, cuts, drainEach }) => {
        const stream = Buffer.concat(bufs);
        const points = [0, ...cuts.filter((c) => c < stream.length).sort((x, y) => x - y), stream.length];
        const f = new Framer(UNLIMITED);
        const frames: Buffer[] = [];
        for (let i = 0; i + 1 < points.length; i++) {
          f.push(stream.subarray(points[i], points[i + 1]));
          if (drainEach || i + 2 === points.length) {
            const r = drain(f);
            expect(r.last.kind).toBe('need-more');
            frames.push(...r.frames);
          }
        }
        expect(hex(frames)).toEqual(hex(bufs));
        expect(f.buffered).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('waits on a partial header without consuming it', () => {
    const f = new Framer(UNLIMITED);
    expect(f.next()).toEqual({ kind: 'need-more' });
    f.push(Buffer.alloc(0));
    expect(f.buffered).toBe(0);
    f.push(Buffer.from([0x30]));
    expect(f.next()).toEqual({ kind: 'need-more' });
    f.push(Buffer.from([0x80]));
    expect(f.next()).toEqual({ kind: 'need-more' });
    f.push(Buffer.from([0x01]));
    // Remaining length 128: still waiting for the body.
    expect(f.next()).toEqual({ kind: 'need-more' });
    expect(f.buffered).toBe(3);
  });

  it('refuses an oversized remaining length as soon as the header is read, before the body', () => {
    const f = new Framer(100);
    f.push(Buffer.from([0x30]));
    expect(f.next().kind).toBe('need-more');
    f.push(Buffer.from([0xc8]));
    expect(f.next().kind).toBe('need-more');
    f.push(Buffer.from([0x01])); // remaining length 200, total 203; no body byte sent
    expect(f.next()).toEqual({ kind: 'too-large', length: 203 });
    expect(f.buffered).toBe(3);

    const g = new Framer(1_048_576);
    g.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // the largest four-byte length
    expect(g.next()).toEqual({ kind: 'too-large', length: 5 + 268_435_455 });
  });

  it('treats a continuation bit on the fourth length byte (a 5-byte varint) as malformed', () => {
    const f = new Framer(UNLIMITED);
    f.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]));
    expect(f.next()).toEqual({ kind: 'malformed' });

    // Byte by byte: malformed exactly when the fourth length byte arrives with its top bit set.
    const g = new Framer(UNLIMITED);
    const bytes = [0x30, 0xff, 0xff, 0xff, 0xff];
    const seen: string[] = [];
    for (const b of bytes) {
      g.push(Buffer.from([b]));
      seen.push(g.next().kind);
    }
    expect(seen).toEqual(['need-more', 'need-more', 'need-more', 'need-more', 'malformed']);
  });

  it('accepts a four-byte varint that ends properly', () => {
    const f = new Framer(UNLIMITED);
    f.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01])); // remaining length 2^21
    expect(f.next()).toEqual({ kind: 'need-more' });
  });

  it('accepts a packet of exactly the maximum size and refuses one byte more', () => {
    const p = gen({ cmd: 'publish', topic: 'a', payload: Buffer.alloc(59, 1), qos: 0, retain: false, dup: false });
    expect(p.length).toBe(64);
    const exact = new Framer(64);
    exact.push(p);
    const r = exact.next();
    expect(r.kind).toBe('frame');
    expect(r.kind === 'frame' && r.frame.equals(p)).toBe(true);

    const under = new Framer(63);
    under.push(p.subarray(0, 2));
    expect(under.next()).toEqual({ kind: 'too-large', length: 64 });
  });

  it('keeps the bytes after a frame for the next one', () => {
    const a = gen({ cmd: 'pingreq' });
    const b = gen({ cmd: 'publish', topic: 't', payload: Buffer.from('xyz'), qos: 0, retain: false, dup: false });
    const f = new Framer(UNLIMITED);
    f.push(Buffer.concat([a, b.subarray(0, 3)]));
    const first = drain(f);
    expect(hex(first.frames)).toEqual(hex([a]));
    expect(f.buffered).toBe(3);
    f.push(b.subarray(3));
    expect(hex(drain(f).frames)).toEqual(hex([b]));
  });
});
