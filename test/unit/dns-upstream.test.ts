/**
 * The DNS forwarder over UDP on loopback against fake upstreams (issue 6, point 1): the caller's
 * id comes back, spoofed replies are ignored (RFC 5452 §3), source ports and ids are random
 * (RFC 5452 §9.2), failover on timeout / SERVFAIL / REFUSED, UPSTREAM_FAILED when all fail,
 * malformed answers end an attempt instead of hanging it, and the in-flight cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { createUpstream, type Upstream } from '../../src/protocols/dns/upstream/index.ts';
import { questionKey } from '../../src/protocols/dns/upstream/wire.ts';
import { answer, decoded, query, startFakeUdp, type FakeServer } from './helpers/dns-upstream-fakes.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fake(handler: Parameters<typeof startFakeUdp>[0]): Promise<FakeServer> {
  const s = await startFakeUdp(handler);
  cleanups.push(() => s.close());
  return s;
}

function upstream(ports: number[], timeoutMs = 1000, extra: { maxInFlight?: number; udpQueriesPerPort?: number; udpPortMaxAgeMs?: number } = {}): Upstream & { events: { type: string; source: string | null | undefined; detail: unknown }[] } {
  const events: { type: string; source: string | null | undefined; detail: unknown }[] = [];
  const u = createUpstream({
    upstreams: ports.map((port) => ({ address: '127.0.0.1', port, protocol: 'udp' as const, tlsServerName: null, tlsCaFile: null })),
    timeoutMs,
    events: { record: (type, _sev, ctx) => events.push({ type, source: ctx?.source, detail: ctx?.detail }) },
    ...extra,
  });
  cleanups.push(() => u.close());
  return Object.assign(u, { events });
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('DNS forwarder over UDP', () => {
  it('returns the upstream answer with the caller\u2019s id, and the upstream saw another id', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q, { address: '198.51.100.7' })));
    const u = upstream([s.port]);
    const out = await u.forward(query('device.example', 0x1234));
    const p = decoded(out);
    expect(p.id).toBe(0x1234);
    expect(p.answers?.[0]).toMatchObject({ type: 'A', data: '198.51.100.7' });
    expect(s.queries).toHaveLength(1);
    // With 1/65536 odds of a false failure, the id on the wire is ours, not the caller's.
    expect(s.queries[0]!.id).not.toBe(0x1234);
  });

  it('ignores spoofed replies (wrong id, wrong question, other port) that arrive first, and returns the real one', async () => {
    const s = await fake((q, ctx) => {
      ctx.send(answer(q, { id: (q.id + 1) & 0xffff, address: '6.6.6.1' }));
      ctx.send(answer(q, { name: 'evil.example', address: '6.6.6.2' }));
      ctx.sendFromOtherPort(answer(q, { address: '6.6.6.3' }));
      // A query (QR=0) with the right id and question is no answer either.
      ctx.send(query(q.name, q.id));
      setTimeout(() => ctx.send(answer(q, { address: '192.0.2.44' })), 30);
    });
    const u = upstream([s.port]);
    const p = decoded(await u.forward(query('real.example', 7)));
    expect(p.answers).toHaveLength(1);
    expect(p.answers?.[0]).toMatchObject({ data: '192.0.2.44' });
    expect(p.id).toBe(7);
    // The other-port reply is dropped by the kernel (connected socket); the rest here.
    expect(u.stats().mismatched).toBeGreaterThanOrEqual(3);
    expect(u.events.filter((e) => e.type === 'dns.upstream.mismatch').length).toBeGreaterThanOrEqual(3);
  });

  it('a spoofed reply alone does not end the wait: the query times out rather than returning it', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q, { id: (q.id ^ 0x5555) & 0xffff })));
    const u = upstream([s.port], 200);
    const err = await failure(u.forward(query('nothing.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(s.queries).toHaveLength(1);
  });

  it('a late answer to a query that timed out is dropped quietly, not counted as a spoof', async () => {
    const s = await fake((q, ctx) => setTimeout(() => ctx.send(answer(q)), 150));
    const u = upstream([s.port], 60);
    expect(isPalisadeError(await failure(u.forward(query('slow.example'))), ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(u.stats().mismatched).toBe(0);
    expect(u.events.filter((e) => e.type === 'dns.upstream.mismatch')).toHaveLength(0);
  });

  it('matches the question case-insensitively (RFC 4343)', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q, { name: q.name.toUpperCase() })));
    const u = upstream([s.port]);
    const p = decoded(await u.forward(query('MiXeD.Example')));
    expect(p.answers).toHaveLength(1);
  });

  async function sendBatches(u: Upstream, n: number): Promise<void> {
    for (let i = 0; i < n; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => u.forward(query(`n${i + j}.example`, 1))));
    }
  }

  function expectRandomPorts(ports: number[], distinctAtLeast: number): void {
    expect(new Set(ports).size).toBeGreaterThanOrEqual(distinctAtLeast);
    // Not a sequence: a counter would step by 1 from one port to the next.
    const distinct = [...new Set(ports)];
    const steps = distinct.slice(1).map((p, i) => Math.abs(p - distinct[i]!));
    expect(steps.filter((d) => d <= 2).length).toBeLessThan(Math.max(2, distinct.length / 10));
    expect(Math.max(...ports) - Math.min(...ports)).toBeGreaterThan(2000);
  }

  it('udpQueriesPerPort 1: every query from its own random source port, with a random id', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q)));
    const u = upstream([s.port], 1000, { udpQueriesPerPort: 1 });
    const n = 120;
    await sendBatches(u, n);
    const ids = s.queries.map((q) => q.id);
    expect(s.queries).toHaveLength(n);
    // Birthday collisions in a ~28k range are rare; a few are allowed.
    expectRandomPorts(s.queries.map((q) => q.port), n - 5);
    // Ids: distinct, not sequential, spread over the 16-bit range, every bit varies.
    expect(new Set(ids).size).toBeGreaterThanOrEqual(n - 2);
    const idSteps = ids.slice(1).map((x, i) => (x - ids[i]! + 65536) % 65536);
    expect(new Set(idSteps).size).toBeGreaterThan(n - 10);
    for (let bit = 0; bit < 16; bit++) {
      const ones = ids.filter((x) => (x >> bit) & 1).length;
      expect(ones, `bit ${bit}`).toBeGreaterThan(n * 0.25);
      expect(ones, `bit ${bit}`).toBeLessThan(n * 0.75);
    }
  });

  it('by default a random source port carries at most 16 queries, then a new one is bound', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q)));
    const u = upstream([s.port]);
    const n = 160;
    await sendBatches(u, n);
    const perPort = new Map<number, number[]>();
    for (const q of s.queries) perPort.set(q.port, [...(perPort.get(q.port) ?? []), q.id]);
    expect(Math.max(...[...perPort.values()].map((ids) => ids.length))).toBeLessThanOrEqual(16);
    expectRandomPorts(s.queries.map((q) => q.port), n / 16);
    // Queries sharing a port never share an id.
    for (const ids of perPort.values()) expect(new Set(ids).size).toBe(ids.length);
  });

  it('a source port is retired after udpPortMaxAgeMs even when few queries used it', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q)));
    const u = upstream([s.port], 1000, { udpPortMaxAgeMs: 50 });
    await u.forward(query('a.example'));
    await u.forward(query('b.example'));
    await new Promise((r) => setTimeout(r, 80));
    await u.forward(query('c.example'));
    const ports = s.queries.map((q) => q.port);
    expect(ports[0]).toBe(ports[1]);
    expect(ports[2]).not.toBe(ports[0]);
  });

  it('fails over to the second upstream when the first times out', async () => {
    const dead = await fake(() => undefined);
    const good = await fake((q, ctx) => ctx.send(answer(q, { address: '192.0.2.2' })));
    const u = upstream([dead.port, good.port], 150);
    const t0 = Date.now();
    const p = decoded(await u.forward(query('failover.example')));
    expect(p.answers?.[0]).toMatchObject({ data: '192.0.2.2' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(dead.queries).toHaveLength(1);
    expect(u.events.filter((e) => e.type === 'dns.upstream.down')).toHaveLength(1);
  });

  it('fails over on SERVFAIL and on REFUSED, and returns NXDOMAIN as an answer', async () => {
    const servfail = await fake((q, ctx) => ctx.send(answer(q, { rcode: 2 })));
    const refused = await fake((q, ctx) => ctx.send(answer(q, { rcode: 5 })));
    const nx = await fake((q, ctx) => ctx.send(answer(q, { rcode: 3 })));
    const u = upstream([servfail.port, refused.port, nx.port]);
    const t0 = Date.now();
    const out = await u.forward(query('gone.example', 99));
    const p = decoded(out);
    expect(out[3]! & 0x0f).toBe(3); // NXDOMAIN
    expect(p.id).toBe(99);
    expect(Date.now() - t0).toBeLessThan(500);
    expect([servfail.queries.length, refused.queries.length, nx.queries.length]).toEqual([1, 1, 1]);
  });

  it('rejects with UPSTREAM_FAILED naming each attempt when every upstream fails', async () => {
    const servfail = await fake((q, ctx) => ctx.send(answer(q, { rcode: 2 })));
    const dead = await fake(() => undefined);
    const u = upstream([servfail.port, dead.port], 150);
    const err = await failure(u.forward(query('x.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    const attempts = (err as { detail: { attempts: { reason: string }[] } }).detail.attempts;
    expect(attempts.map((a) => a.reason)).toEqual(['SERVFAIL', 'timeout']);
  });

  it('an upstream port with nothing listening fails fast (ICMP unreachable on the connected socket)', async () => {
    const gone = await fake(() => undefined);
    const port = gone.port;
    await gone.close();
    const u = upstream([port], 5000);
    const t0 = Date.now();
    const err = await failure(u.forward(query('x.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a compression-loop answer ends the attempt at once and the next upstream answers', async () => {
    const loop = await fake((q, ctx) => {
      const good = answer(q);
      // The answer's owner name (right after the question) becomes a pointer to itself.
      const at = 12 + (q.raw.length - 12);
      const bad = Buffer.from(good);
      bad[at] = 0xc0 | (at >> 8);
      bad[at + 1] = at & 0xff;
      ctx.send(bad);
    });
    const good = await fake((q, ctx) => ctx.send(answer(q, { address: '192.0.2.9' })));
    const u = upstream([loop.port, good.port], 3000);
    const t0 = Date.now();
    const p = decoded(await u.forward(query('loop.example')));
    expect(p.answers?.[0]).toMatchObject({ data: '192.0.2.9' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a loop or truncation in the reply\u2019s question is dropped and the query ends at its timeout', async () => {
    const s = await fake((q, ctx) => {
      const loop = Buffer.from(answer(q));
      loop[12] = 0xc0;
      loop[13] = 12; // the question's name points at itself
      ctx.send(loop);
      ctx.send(answer(q).subarray(0, 20)); // cut inside the question
      ctx.send(answer(q).subarray(0, 5)); // cut inside the header
    });
    const u = upstream([s.port], 200);
    const t0 = Date.now();
    const err = await failure(u.forward(query('loopq.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(u.stats().mismatched).toBe(3);
  });

  it('a truncated answer body (header and question intact) is malformed, not returned', async () => {
    const s = await fake((q, ctx) => ctx.send(answer(q).subarray(0, q.raw.length + 6)));
    const u = upstream([s.port], 2000);
    const err = await failure(u.forward(query('cut.example')));
    expect((err as { detail: { attempts: { reason: string }[] } }).detail.attempts[0]!.reason).toBe('malformed answer');
  });

  it('caps queries in flight and fails fast beyond the cap', async () => {
    const held: (() => void)[] = [];
    const s = await fake((q, ctx) => held.push(() => ctx.send(answer(q))));
    const u = upstream([s.port], 2000, { maxInFlight: 3 });
    const first = [1, 2, 3].map((i) => u.forward(query(`h${i}.example`)));
    const err = await failure(u.forward(query('h4.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(u.stats().inFlight).toBe(3);
    while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
    for (const h of held) h();
    await Promise.all(first);
    expect(u.stats().inFlight).toBe(0);
  });

  it('close() ends queries in flight with UPSTREAM_FAILED and refuses new ones', async () => {
    const s = await fake(() => undefined);
    const u = upstream([s.port], 5000);
    const pending = failure(u.forward(query('slow.example')));
    await new Promise((r) => setTimeout(r, 20));
    await u.close();
    expect(isPalisadeError(await pending, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(isPalisadeError(await failure(u.forward(query('late.example'))), ErrorCodes.UPSTREAM_FAILED)).toBe(true);
  });

  it('refuses a query without exactly one readable question, and an upstream that is no IP address', async () => {
    const s = await fake(() => undefined);
    const u = upstream([s.port]);
    expect(isPalisadeError(await failure(u.forward(Buffer.alloc(12))), ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect(() => createUpstream({ upstreams: [{ address: 'dns.example', port: null, protocol: 'udp', tlsServerName: null, tlsCaFile: null }], timeoutMs: 100 })).toThrow(/IP address/);
  });
});

describe('questionKey', () => {
  it('folds case, keeps type and class, follows backward pointers and refuses loops', () => {
    expect(questionKey(query('A.Example', 1, 'AAAA'))).toBe('a.example.|28|1');
    const q = query('a.example');
    const loop = Buffer.from(q);
    loop[12] = 0xc0;
    loop[13] = 12;
    expect(questionKey(loop)).toBeNull();
    expect(questionKey(q.subarray(0, q.length - 1))).toBeNull();
    const two = Buffer.from(q);
    two.writeUInt16BE(2, 4);
    expect(questionKey(two)).toBeNull();
  });
});
