/**
 * The DNS listeners on real loopback sockets (src/protocols/dns/listeners.ts): UDP and TCP on
 * one port, TC=1 over UDP then the whole answer over TCP, TCP framing (RFC 7766 §8),
 * pipelined queries answered out of order (§6.2.1.1), a cap on queries in flight, framing
 * errors and idle connections closed, garbage never taking the server down.
 */
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsEngine, type DnsEngine } from '../../src/protocols/dns/engine.ts';
import { startDnsListeners, type DnsListeners, type DnsTcpLimits } from '../../src/protocols/dns/listeners.ts';
import type { DnsUpstream } from '../../src/protocols/dns/upstream-types.ts';
import { parseQuery } from '../../src/protocols/dns/wire.ts';
import { buildAnswer, decode, dnsConfig, fakeClients, fakeFilter, makeQuery, rcodeOf } from './helpers/dns-engine-fakes.ts';

const open: DnsListeners[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

const warnings: unknown[] = [];
const logger = { warn: (obj: object) => warnings.push(obj) };

/** Answers at once, except names starting "slow" (after `delayMs`) and "held" (when released). */
function upstream(delayMs = 150) {
  const calls: string[] = [];
  const held: (() => void)[] = [];
  const up: DnsUpstream & { calls: string[]; release(): void } = {
    calls,
    release: () => held.splice(0).forEach((r) => r()),
    forward: async (query) => {
      const name = parseQuery(query).name;
      calls.push(name);
      if (name.startsWith('slow')) await new Promise((r) => setTimeout(r, delayMs));
      if (name.startsWith('held')) await new Promise<void>((r) => held.push(r));
      return buildAnswer(query, (_n, type) => (type === 'TXT' ? { count: 20, txtSize: 200 } : {}));
    },
    close: () => Promise.resolve(),
  };
  return up;
}

async function start(tcp: Partial<DnsTcpLimits> = {}, io: 'auto' | 'node' = 'auto') {
  const up = upstream();
  const engine: DnsEngine = createDnsEngine({ config: dnsConfig(), filter: fakeFilter({ 'blocked.example': 'nxdomain' }), clients: fakeClients(), upstream: up });
  const l = await startDnsListeners({ host: '127.0.0.1', port: 0, io, engine, logger, tcp });
  open.push(l);
  return { l, up, engine };
}

function udpAsk(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** A TCP client that collects framed answers and notes when the server closes. */
function tcpClient(port: number) {
  const answers: Buffer[] = [];
  let buf = Buffer.alloc(0);
  let closed = false;
  const waiters: (() => void)[] = [];
  const sock: Socket = connect(port, '127.0.0.1');
  const wake = () => waiters.splice(0).forEach((w) => w());
  sock.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
    wake();
  });
  sock.on('close', () => {
    closed = true;
    wake();
  });
  sock.on('error', () => undefined);
  const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { sock, answers, isClosed: () => closed, until };
}

describe('DNS listeners', () => {
  it('UDP and TCP answer on the same port', async () => {
    const { l } = await start();
    expect(l.port).toBeGreaterThan(0);
    const u = await udpAsk(l.port, makeQuery('a.example', { id: 11 }));
    expect(decode(u!).answers?.[0]).toMatchObject({ type: 'A', data: '192.0.2.1' });
    const c = tcpClient(l.port);
    c.sock.write(frame(makeQuery('blocked.example', { id: 12 })));
    await c.until(() => c.answers.length === 1);
    expect(c.answers[0]!.readUInt16BE(0)).toBe(12);
    expect(rcodeOf(c.answers[0]!)).toBe(3);
    c.sock.destroy();
  });

  it('node:dgram UDP I/O works the same', async () => {
    const { l } = await start({}, 'node');
    expect(l.udpIo).toBe('node');
    const u = await udpAsk(l.port, makeQuery('blocked.example', { id: 3 }));
    expect(rcodeOf(u!)).toBe(3);
  });

  it('a large answer: TC=1 over UDP, then whole over TCP (RFC 7766 §5)', async () => {
    const { l, up } = await start();
    const u = await udpAsk(l.port, makeQuery('big.example', { type: 'TXT', edns: { size: 1232 } }));
    expect(decode(u!).flag_tc).toBe(true);
    expect(u!.length).toBeLessThanOrEqual(1232);
    const c = tcpClient(l.port);
    c.sock.write(frame(makeQuery('big.example', { type: 'TXT', edns: { size: 1232 } })));
    await c.until(() => c.answers.length === 1);
    const d = decode(c.answers[0]!);
    expect(d.flag_tc).toBe(false);
    expect(d.answers).toHaveLength(20);
    expect(up.calls).toEqual(['big.example']);
    c.sock.destroy();
  });

  it('pipelined queries on one connection are answered as they are ready, out of order', async () => {
    const { l } = await start();
    const c = tcpClient(l.port);
    c.sock.write(Buffer.concat([frame(makeQuery('slow.example', { id: 1 })), frame(makeQuery('fast.example', { id: 2 })), frame(makeQuery('blocked.example', { id: 3 }))]));
    await c.until(() => c.answers.length === 3);
    expect(c.answers.map((a) => a.readUInt16BE(0))).toEqual([3, 2, 1]);
    c.sock.destroy();
  });

  it('a query sent a byte at a time is read whole', async () => {
    const { l } = await start();
    const c = tcpClient(l.port);
    const bytes = frame(makeQuery('blocked.example', { id: 77 }));
    for (const b of bytes) {
      c.sock.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await c.until(() => c.answers.length === 1);
    expect(c.answers[0]!.readUInt16BE(0)).toBe(77);
    c.sock.destroy();
  });

  it('queries in flight per connection are capped; the rest wait, then all are answered', async () => {
    const { l, up } = await start({ maxInflightPerConnection: 2 });
    const c = tcpClient(l.port);
    c.sock.write(Buffer.concat([1, 2, 3, 4, 5].map((i) => frame(makeQuery(`held${i}.example`, { id: i })))));
    await new Promise((r) => setTimeout(r, 150));
    expect(up.calls).toHaveLength(2);
    while (c.answers.length < 5) {
      up.release();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(c.answers.map((a) => a.readUInt16BE(0)).sort()).toEqual([1, 2, 3, 4, 5]);
    c.sock.destroy();
  });

  it('a frame shorter than a header or longer than any query closes the connection', async () => {
    const { l } = await start();
    const short = tcpClient(l.port);
    short.sock.write(Buffer.from([0, 5, 1, 2, 3, 4, 5]));
    await short.until(() => short.isClosed());
    const long = tcpClient(l.port);
    long.sock.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    await long.until(() => long.isClosed());
  });

  it('a malformed query in a good frame gets FORMERR and the connection stays', async () => {
    const { l } = await start();
    const c = tcpClient(l.port);
    c.sock.write(frame(Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])));
    c.sock.write(frame(makeQuery('blocked.example', { id: 10 })));
    await c.until(() => c.answers.length === 2);
    expect(rcodeOf(c.answers[0]!)).toBe(1);
    expect(c.answers[1]!.readUInt16BE(0)).toBe(10);
    expect(c.isClosed()).toBe(false);
    c.sock.destroy();
  });

  it('connections past maxConnections are closed; the others keep working', async () => {
    const { l } = await start({ maxConnections: 2 });
    const a = tcpClient(l.port);
    const b = tcpClient(l.port);
    await Promise.all([a, b].map((c) => new Promise((r) => c.sock.once('connect', r))));
    await new Promise((r) => setTimeout(r, 50));
    const c = tcpClient(l.port);
    await c.until(() => c.isClosed());
    a.sock.write(frame(makeQuery('blocked.example', { id: 1 })));
    await a.until(() => a.answers.length === 1);
    a.sock.destroy();
    b.sock.destroy();
  });

  it('an idle connection is closed (RFC 7766 §6.2.3)', async () => {
    const { l } = await start({ idleTimeoutMs: 200 });
    const c = tcpClient(l.port);
    const t0 = Date.now();
    await c.until(() => c.isClosed(), 3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('UDP garbage is answered FORMERR or ignored, and the server keeps answering', async () => {
    const { l } = await start();
    const s = createSocket('udp4');
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.alloc(1 + (i % 40));
      for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 7) & 0xff;
      s.send(junk, l.port, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 100));
    s.close();
    const u = await udpAsk(l.port, makeQuery('blocked.example', { id: 5 }));
    expect(u!.readUInt16BE(0)).toBe(5);
  });

  it('close() frees the port for UDP and TCP', async () => {
    const { l } = await start();
    const port = l.port;
    await open.pop()!.close();
    const again = await startDnsListeners({
      host: '127.0.0.1',
      port,
      io: 'auto',
      engine: createDnsEngine({ config: dnsConfig(), filter: fakeFilter(), clients: fakeClients(), upstream: upstream() }),
      logger,
    });
    open.push(again);
    expect(again.port).toBe(port);
  });
});
