/**
 * The DNS answer cache (src/protocols/dns/cache.ts) through the engine, with the clock
 * injected: TTL decrement and clamps, negative caching (RFC 2308 §5), LRU bound, prefetch,
 * serve-stale (RFC 8767), coalesced misses, the asker's 0x20 case, and what is never cached.
 */
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import type { DnsConfig } from '../../src/config/dns.ts';
import { DnsCache, CacheEntry, prepareAnswer } from '../../src/protocols/dns/cache.ts';
import { createDnsEngine, type DnsEngine } from '../../src/protocols/dns/engine.ts';
import { buildUpstreamQuery } from '../../src/protocols/dns/responses.ts';
import { parseQuery } from '../../src/protocols/dns/wire.ts';
import {
  buildAnswer,
  decode,
  dnsConfig,
  fakeClients,
  fakeFilter,
  fakeUpstream,
  makeQuery,
  rcodeOf,
  recordingObserver,
  type UpstreamAnswer,
} from './helpers/dns-engine-fakes.ts';

const client = { address: '192.0.2.10', port: 5000 };

function setup(answer: (name: string, type: string) => UpstreamAnswer = () => ({}), cache: Partial<DnsConfig['cache']> = {}) {
  const clock = { t: 1_700_000_000_000 };
  const upstream = fakeUpstream(answer);
  const observer = recordingObserver();
  const engine = createDnsEngine({ config: dnsConfig({ cache }), filter: fakeFilter(), clients: fakeClients(), upstream, observer, now: () => clock.t });
  return { clock, upstream, observer, engine };
}

async function ask(engine: DnsEngine, name: string, o: Parameters<typeof makeQuery>[1] = {}): Promise<Buffer> {
  const out = await engine.handle(makeQuery(name, o), client, 'udp');
  if (out === null) throw new Error('dropped');
  return out;
}

function ttls(msg: Buffer): number[] {
  const d = decode(msg);
  return [...(d.answers ?? []), ...(d.authorities ?? [])].map((a) => (a as { ttl: number }).ttl);
}

describe('DNS cache', () => {
  it('a hit decrements the TTL by the entry\'s age; a hit is synchronous and needs no upstream', async () => {
    const { clock, upstream, engine, observer } = setup(() => ({ ttl: 300 }));
    expect(ttls(await ask(engine, 'a.example'))).toEqual([300]);
    clock.t += 10_500;
    const hit = engine.handle(makeQuery('a.example', { id: 99 }), client, 'udp');
    expect(hit).toBeInstanceOf(Buffer);
    expect(ttls(hit as Buffer)).toEqual([290]);
    expect(decode(hit as Buffer).id).toBe(99);
    expect(upstream.calls).toHaveLength(1);
    expect(observer.records.map((r) => r.outcome)).toEqual(['forwarded', 'cached']);
    expect(engine.stats.cacheHits).toBe(1);
  });

  it('TTLs are clamped to [minTtl, maxTtl]; the entry lives as long as the clamped TTL', async () => {
    const { clock, upstream, engine } = setup((name) => ({ ttl: name === 'short.example' ? 5 : 100_000 }), { minTtl: 60, maxTtl: 120 });
    expect(ttls(await ask(engine, 'short.example'))).toEqual([60]);
    expect(ttls(await ask(engine, 'long.example'))).toEqual([120]);
    clock.t += 119_000;
    expect(ttls(await ask(engine, 'long.example'))).toEqual([1]);
    expect(upstream.calls).toHaveLength(2);
    clock.t += 1_000;
    await ask(engine, 'long.example');
    expect(upstream.calls).toHaveLength(3);
  });

  it('NXDOMAIN and NODATA are cached for min(SOA TTL, SOA MINIMUM), capped (RFC 2308 §5)', async () => {
    const { clock, upstream, engine } = setup((name) =>
      name === 'nx.example' ? { rcode: 3, soa: { ttl: 900, minimum: 120 } } : name === 'nodata.example' ? { soa: { ttl: 30, minimum: 600 } } : { rcode: 3, soa: { ttl: 7200, minimum: 7200 } },
      { maxNegativeTtl: 1800 },
    );
    const nx = await ask(engine, 'nx.example');
    expect(rcodeOf(nx)).toBe(3);
    expect(ttls(nx)).toEqual([120]);
    expect(ttls(await ask(engine, 'nodata.example'))).toEqual([30]);
    expect(ttls(await ask(engine, 'capped.example'))).toEqual([1800]);
    clock.t += 29_000;
    const again = await ask(engine, 'nx.example');
    expect(rcodeOf(again)).toBe(3);
    expect(ttls(again)).toEqual([91]);
    expect(ttls(await ask(engine, 'nodata.example'))).toEqual([1]);
    expect(upstream.calls).toHaveLength(3);
    clock.t += 1_000;
    await ask(engine, 'nodata.example');
    expect(upstream.calls).toHaveLength(4);
  });

  it('a negative answer without an SOA, a SERVFAIL, a truncated answer and TTL 0 are not cached', async () => {
    const { upstream, engine } = setup((name) => (name === 'nosoa.example' ? { rcode: 3 } : name === 'zero.example' ? { ttl: 0 } : {}));
    await ask(engine, 'nosoa.example');
    await ask(engine, 'nosoa.example');
    await ask(engine, 'zero.example');
    await ask(engine, 'zero.example');
    expect(upstream.calls).toHaveLength(4);
    const opts = dnsConfig().cache;
    const query = makeQuery('x.example');
    const q = parseQuery(query);
    const uq = buildUpstreamQuery(query, q, 1232);
    const key = { name: 'x.example', qtype: 1, qclass: 1, dnssecOk: false };
    const servfail = prepareAnswer(buildAnswer(uq, () => ({ rcode: 2 })), uq, key, opts, 0);
    expect(servfail?.lifetime).toBe(0);
    const tc = buildAnswer(uq, () => ({}));
    tc[2]! |= 0x02;
    expect(prepareAnswer(tc, uq, key, opts, 0)?.lifetime).toBe(0);
    expect(prepareAnswer(buildAnswer(uq, () => ({ ttl: 50 })), uq, key, opts, 0)?.lifetime).toBe(50);
  });

  it('an answer to another question, or one cut short, is refused (SERVFAIL, nothing cached)', async () => {
    const { upstream, engine } = setup();
    upstream.forward = (query: Buffer) => {
      const other = Buffer.from(buildAnswer(query, () => ({})));
      other[13] = 0x78; // first letter of the name
      return Promise.resolve(other);
    };
    expect(rcodeOf(await ask(engine, 'b.example'))).toBe(2);
    upstream.forward = (query: Buffer) => Promise.resolve(buildAnswer(query, () => ({})).subarray(0, 40));
    expect(rcodeOf(await ask(engine, 'b.example'))).toBe(2);
    expect(engine.cache.size).toBe(0);
  });

  it('a compression pointer loop in an upstream answer does not hang', async () => {
    const { upstream, engine } = setup();
    upstream.forward = (query: Buffer) => {
      const a = buildAnswer(query, () => ({}));
      const qEnd = 12 + (query.length - 12 - 11);
      // The answer's owner name: a pointer to itself.
      a[qEnd] = 0xc0 | (qEnd >> 8);
      a[qEnd + 1] = qEnd & 0xff;
      return Promise.resolve(a);
    };
    const out = await ask(engine, 'loop.example');
    expect(out.readUInt16BE(0)).toBe(0x1234);
  });

  it('the answer carries the asker\'s spelling of the name (0x20), the cache one entry for all spellings', async () => {
    const { upstream, engine } = setup();
    await ask(engine, 'www.example.com');
    const out = await ask(engine, 'WwW.eXaMpLe.CoM');
    const d = decode(out);
    expect(d.questions?.[0]?.name).toBe('WwW.eXaMpLe.CoM');
    expect(upstream.calls).toHaveLength(1);
    expect(parseQuery(upstream.calls[0]!).name).toBe('www.example.com');
  });

  it('the DO bit and the qtype are part of the key', async () => {
    const { upstream, engine } = setup();
    await ask(engine, 'k.example');
    await ask(engine, 'k.example', { edns: { do: true } });
    await ask(engine, 'k.example', { type: 'AAAA' });
    await ask(engine, 'k.example', { edns: {} });
    expect(upstream.calls).toHaveLength(3);
  });

  it('concurrent misses for one key share one upstream query; each gets its own id', async () => {
    const { upstream, engine } = setup();
    upstream.hold = true;
    const a = engine.handle(makeQuery('c.example', { id: 1 }), client, 'udp');
    const b = engine.handle(makeQuery('C.example', { id: 2 }), client, 'udp');
    expect(a).toBeInstanceOf(Promise);
    upstream.release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(upstream.calls).toHaveLength(1);
    expect(decode(ra!).id).toBe(1);
    expect(decode(rb!).id).toBe(2);
    expect(decode(rb!).questions?.[0]?.name).toBe('C.example');
  });

  it('prefetch: a popular entry hit in the last 10 % of its TTL is refreshed once in the background', async () => {
    const { clock, upstream, engine, observer } = setup(() => ({ ttl: 100 }), { prefetchHits: 3 });
    await ask(engine, 'p.example');
    clock.t += 10_000;
    await ask(engine, 'p.example');
    await ask(engine, 'p.example');
    expect(upstream.calls).toHaveLength(1);
    clock.t += 80_000; // 90 s into a 100 s TTL
    upstream.hold = true;
    expect(ttls(engine.handle(makeQuery('p.example'), client, 'udp') as Buffer)).toEqual([10]);
    void engine.handle(makeQuery('p.example'), client, 'udp');
    void engine.handle(makeQuery('p.example'), client, 'udp');
    expect(upstream.calls).toHaveLength(2);
    expect(engine.stats.prefetches).toBe(1);
    upstream.release();
    await new Promise((r) => setImmediate(r));
    clock.t += 15_000; // past the old entry's expiry: the refreshed one answers
    expect(ttls(engine.handle(makeQuery('p.example'), client, 'udp') as Buffer)).toEqual([85]);
    expect(upstream.calls).toHaveLength(2);
    expect(observer.records.at(-1)?.outcome).toBe('cached');
  });

  it('no prefetch for a name asked fewer than prefetchHits times', async () => {
    const { clock, upstream, engine } = setup(() => ({ ttl: 100 }), { prefetchHits: 3 });
    await ask(engine, 'q.example');
    clock.t += 95_000;
    await ask(engine, 'q.example');
    expect(upstream.calls).toHaveLength(1);
  });

  it('serve-stale: upstreams failing, an expired answer within serveStaleSeconds is served with staleAnswerTtl (RFC 8767)', async () => {
    const { clock, upstream, engine, observer } = setup(() => ({ ttl: 10 }), { serveStaleSeconds: 3600, staleAnswerTtl: 30 });
    await ask(engine, 's.example');
    clock.t += 60_000;
    upstream.failing = true;
    const stale = await ask(engine, 's.example');
    expect(rcodeOf(stale)).toBe(0);
    expect(ttls(stale)).toEqual([30]);
    expect(observer.records.at(-1)?.outcome).toBe('stale');
    clock.t += 3600_000;
    const gone = await ask(engine, 's.example');
    expect(rcodeOf(gone)).toBe(2);
    expect(observer.records.at(-1)).toMatchObject({ outcome: 'servfail', rcode: 2 });
    expect(engine.cache.size).toBe(0);
  });

  it('a slow upstream with an expired answer at hand: stale after the client response timer, cache refreshed later (RFC 8767 §5)', async () => {
    const clock = { t: 1_700_000_000_000 };
    const upstream = fakeUpstream(() => ({ ttl: 10 }));
    const observer = recordingObserver();
    const engine = createDnsEngine({ config: dnsConfig(), filter: fakeFilter(), clients: fakeClients(), upstream, observer, now: () => clock.t, staleAfterMs: 50 });
    await ask(engine, 'slow.example');
    clock.t += 20_000;
    upstream.hold = true;
    upstream.answer = () => ({ ttl: 600 });
    const started = Date.now();
    const stale = await ask(engine, 'slow.example');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(ttls(stale)).toEqual([30]);
    expect(observer.records.at(-1)?.outcome).toBe('stale');
    upstream.release();
    await new Promise((r) => setImmediate(r));
    expect(ttls(engine.handle(makeQuery('slow.example'), client, 'udp') as Buffer)).toEqual([600]);
  });

  it('upstream failing and nothing stale: SERVFAIL', async () => {
    const { upstream, engine } = setup();
    upstream.failing = true;
    expect(rcodeOf(await ask(engine, 'f.example'))).toBe(2);
    expect(engine.stats.upstreamFailures).toBe(1);
  });

  it('LRU: bounded by maxEntries, the least recently used goes first', async () => {
    const { upstream, engine } = setup(() => ({}), { maxEntries: 2 });
    await ask(engine, 'l1.example');
    await ask(engine, 'l2.example');
    await ask(engine, 'l1.example'); // l1 now most recent
    await ask(engine, 'l3.example'); // evicts l2
    expect(engine.cache.size).toBe(2);
    expect(upstream.calls).toHaveLength(3);
    await ask(engine, 'l1.example');
    expect(upstream.calls).toHaveLength(3);
    await ask(engine, 'l2.example');
    expect(upstream.calls).toHaveLength(4);
  });

  it('DnsCache keeps one entry per key and chains types of one name', () => {
    const cache = new DnsCache(10);
    const mk = (qtype: number, lifetime = 60) => new CacheEntry({ name: 'n', qtype, qclass: 1, dnssecOk: false }, Buffer.alloc(12), 12, new Uint16Array(0), 0, 0, lifetime, 0);
    const a = mk(1);
    const aaaa = mk(28);
    cache.set(a);
    cache.set(aaaa);
    expect(cache.get('n', 1, 1, false)).toBe(a);
    expect(cache.get('n', 28, 1, false)).toBe(aaaa);
    const a2 = mk(1);
    cache.set(a2);
    expect(cache.size).toBe(2);
    expect(cache.get('n', 1, 1, false)).toBe(a2);
    cache.delete(aaaa);
    expect(cache.get('n', 28, 1, false)).toBeUndefined();
    expect(cache.get('n', 1, 1, false)).toBe(a2);
    cache.set(mk(5, 0));
    expect(cache.size).toBe(1);
  });

  it('a large answer from the cache is TC=1 over UDP and whole over TCP', async () => {
    const { upstream, engine } = setup(() => ({ count: 20, txtSize: 200 }));
    const udp = await ask(engine, 'big.example', { type: 'TXT', edns: { size: 4096 } });
    const d = dnsPacket.decode(udp);
    expect(d.flag_tc).toBe(true);
    expect(d.answers).toEqual([]);
    expect(udp.length).toBeLessThanOrEqual(1232);
    const tcp = await engine.handle(makeQuery('big.example', { type: 'TXT', edns: { size: 4096 } }), client, 'tcp');
    expect(dnsPacket.decode(tcp!).answers).toHaveLength(20);
    expect(dnsPacket.decode(tcp!).flag_tc).toBe(false);
    expect(upstream.calls).toHaveLength(1);
  });
});

