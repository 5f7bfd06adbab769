/**
 * The DNS engine's steps (src/protocols/dns/engine.ts) in process: malformed input (FORMERR or
 * drop, random garbage never throws), EDNS echo and BADVERS, NOTIMP, ANY refused (RFC 8482),
 * the per-client response rate limit, blocked answers per mode, client identity in the query
 * records, and UDP truncation.
 */
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsConfig } from '../../src/config/dns.ts';
import type { BlockedAnswer, DnsFilter } from '../../src/core/dns/types.ts';
import { createDnsEngine } from '../../src/protocols/dns/engine.ts';
import { ResponseRateLimiter } from '../../src/protocols/dns/response-rate.ts';
import { decode, dnsConfig, fakeClients, fakeFilter, fakeUpstream, makeQuery, rcodeOf, recordingObserver } from './helpers/dns-engine-fakes.ts';

const client = { address: '192.0.2.10', port: 5000 };

function setup(o: { blocked?: Record<string, BlockedAnswer>; abuse?: Partial<DnsConfig['abuse']>; filter?: DnsFilter; count?: number } = {}) {
  const clock = { t: 1_700_000_000_000 };
  const upstream = fakeUpstream(() => ({ count: o.count ?? 1, txtSize: 200 }));
  const observer = recordingObserver();
  const events: { type: string }[] = [];
  const engine = createDnsEngine({
    config: dnsConfig({ abuse: o.abuse ?? {} }),
    filter: o.filter ?? fakeFilter(o.blocked ?? {}),
    clients: fakeClients({ '192.0.2.10': { deviceId: 'dev-1', segment: 'cameras' } }),
    upstream,
    observer,
    now: () => clock.t,
    events: { record: (type) => events.push({ type }) },
  });
  return { clock, upstream, observer, engine, events };
}

describe('DNS engine', () => {
  it('forwards a miss and records who asked, what and how', async () => {
    const { engine, observer } = setup();
    const out = await engine.handle(makeQuery('Cam.Example', { id: 5 }), client, 'udp');
    const d = decode(out!);
    expect(d.id).toBe(5);
    expect(d.flag_qr && d.flag_ra && d.flag_rd).toBe(true);
    expect(d.flag_aa).toBe(false);
    expect(d.answers?.[0]).toMatchObject({ type: 'A', data: '192.0.2.1' });
    expect(observer.records).toEqual([
      expect.objectContaining({ client: '192.0.2.10', deviceId: 'dev-1', segment: 'cameras', transport: 'udp', name: 'cam.example', qtype: 1, rcode: 0, outcome: 'forwarded', blockedBy: null }),
    ]);
    expect(observer.records[0]!.latencyUs).toBeGreaterThanOrEqual(0);
  });

  it('unreadable header → dropped; malformed question → FORMERR with the id; both recorded', () => {
    const { engine, observer } = setup();
    expect(engine.handle(Buffer.from([1, 2, 3]), client, 'udp')).toBeNull();
    const bad = Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const out = engine.handle(bad, client, 'udp') as Buffer;
    expect(out.readUInt16BE(0)).toBe(0xabcd);
    expect(rcodeOf(out)).toBe(1);
    expect(observer.records.map((r) => [r.outcome, r.rcode, r.deviceId])).toEqual([
      ['formerr', -1, null],
      ['formerr', 1, 'dev-1'],
    ]);
  });

  it('random garbage never throws past the engine: a Buffer (FORMERR/NOTIMP/…) or null (property)', async () => {
    const { engine } = setup();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const out = await engine.handle(Buffer.from(bytes), client, 'udp');
        if (out !== null) {
          expect(out.length).toBeGreaterThanOrEqual(12);
          expect(out.readUInt16BE(0)).toBe((bytes[0]! << 8) | bytes[1]!);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('EDNS: the answer carries our OPT (size maxUdpResponse, the client\'s DO); none without EDNS', async () => {
    const { engine } = setup();
    const d = decode((await engine.handle(makeQuery('e.example', { edns: { size: 4096, do: true } }), client, 'udp'))!);
    const opt = d.additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer;
    expect(opt).toMatchObject({ udpPayloadSize: 1232, flag_do: true, ednsVersion: 0 });
    const plain = decode((await engine.handle(makeQuery('e.example'), client, 'udp'))!);
    expect(plain.additionals).toEqual([]);
  });

  it('EDNS version 1 → BADVERS (RFC 6891 §6.1.3)', () => {
    const { engine, upstream } = setup();
    const out = engine.handle(makeQuery('v.example', { edns: { version: 1 } }), client, 'udp') as Buffer;
    const opt = decode(out).additionals?.[0] as dnsPacket.OptAnswer;
    expect(opt.extendedRcode).toBe(1);
    expect(rcodeOf(out)).toBe(0);
    expect(upstream.calls).toHaveLength(0);
  });

  it('an opcode other than QUERY → NOTIMP', () => {
    const { engine } = setup();
    const q = makeQuery('n.example');
    q[2] = (q[2]! & 0x87) | (4 << 3); // NOTIFY
    const out = engine.handle(q, client, 'udp') as Buffer;
    expect(rcodeOf(out)).toBe(4);
    expect((out[2]! >> 3) & 0xf).toBe(4);
  });

  it('qtype ANY is refused (RFC 8482) unless refuseAny is off', async () => {
    const { engine, upstream, observer } = setup();
    const out = engine.handle(makeQuery('any.example', { type: 'ANY' }), client, 'udp') as Buffer;
    expect(rcodeOf(out)).toBe(5);
    expect(upstream.calls).toHaveLength(0);
    expect(observer.records[0]).toMatchObject({ outcome: 'refused', rcode: 5, qtype: 255 });
    const open = setup({ abuse: { refuseAny: false } });
    expect(rcodeOf((await open.engine.handle(makeQuery('any.example', { type: 'ANY' }), client, 'udp'))!)).toBe(0);
    expect(open.upstream.calls).toHaveLength(1);
  });

  it('per-client response rate limit: past the burst answers are dropped, other clients unaffected, refilled over time', () => {
    const { engine, clock, observer, events } = setup({ blocked: { 'x.example': 'nxdomain' }, abuse: { responsesPerSecond: 10, responsesBurst: 5 } });
    const results = Array.from({ length: 8 }, () => engine.handle(makeQuery('x.example'), client, 'udp'));
    expect(results.filter((r) => r !== null)).toHaveLength(5);
    expect(observer.records.filter((r) => r.outcome === 'ratelimited')).toHaveLength(3);
    expect(observer.records.at(-1)).toMatchObject({ rcode: -1, outcome: 'ratelimited' });
    expect(events.filter((e) => e.type === 'dns.rate_limited')).toHaveLength(1);
    expect(engine.handle(makeQuery('x.example'), { address: '192.0.2.11', port: 1 }, 'udp')).not.toBeNull();
    // TCP counts against the same address.
    expect(engine.handle(makeQuery('x.example'), client, 'tcp')).toBeNull();
    clock.t += 200; // 10/s → 2 tokens
    expect(engine.handle(makeQuery('x.example'), client, 'udp')).not.toBeNull();
    expect(engine.handle(makeQuery('x.example'), client, 'udp')).not.toBeNull();
    expect(engine.handle(makeQuery('x.example'), client, 'udp')).toBeNull();
    // DoH is not limited here (HTTP's own limits apply).
    expect(engine.handle(makeQuery('x.example'), client, 'doh')).not.toBeNull();
  });

  it('the table of per-client buckets stays bounded', () => {
    const limiter = new ResponseRateLimiter(10, 5, 100);
    for (let i = 0; i < 1000; i++) expect(limiter.allow(`10.0.${i >> 8}.${i & 255}`, 0)).toBe(true);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  it('blocked names: NXDOMAIN / 0.0.0.0 / REFUSED, synchronously, without the upstream; recorded with the rule', () => {
    const { engine, upstream, observer } = setup({ blocked: { 'nx.bad': 'nxdomain', 'null.bad': 'null', 'ref.bad': 'refused' } });
    const nx = engine.handle(makeQuery('NX.bad', { edns: {} }), client, 'udp');
    expect(nx).toBeInstanceOf(Buffer);
    expect(rcodeOf(nx as Buffer)).toBe(3);
    expect(decode(nx as Buffer).questions?.[0]?.name).toBe('NX.bad');
    const nul = engine.handle(makeQuery('null.bad'), client, 'udp') as Buffer;
    expect(decode(nul).answers?.[0]).toMatchObject({ type: 'A', data: '0.0.0.0' });
    expect(rcodeOf(engine.handle(makeQuery('ref.bad'), client, 'udp') as Buffer)).toBe(5);
    expect(upstream.calls).toHaveLength(0);
    expect(observer.records.map((r) => [r.outcome, r.rcode, r.blockedBy?.list])).toEqual([
      ['blocked', 3, 'test-list'],
      ['blocked', 0, 'test-list'],
      ['blocked', 5, 'test-list'],
    ]);
    expect(engine.stats.blocked).toBe(3);
  });

  it('the filter sees the client\'s segment and the canonical name; allow-only blocks carry EDE 17', () => {
    const seen: [string | null, string][] = [];
    const filter: DnsFilter = {
      check: (segment, name) => {
        seen.push([segment, name]);
        return { blocked: true, answer: 'nxdomain', list: 'allowlist-mode', rule: '' };
      },
    };
    const { engine } = setup({ filter });
    const out = engine.handle(makeQuery('WWW.Example.', { edns: {} }), client, 'udp') as Buffer;
    void engine.handle(makeQuery('www.example'), { address: '198.51.100.1', port: 1 }, 'udp');
    expect(seen).toEqual([
      ['cameras', 'www.example'],
      [null, 'www.example'],
    ]);
    const opt = decode(out).additionals?.[0] as dnsPacket.OptAnswer;
    expect(opt.options[0]).toMatchObject({ code: 15, data: Buffer.from([0, 17]) });
  });

  it('UDP answers over min(client size or 512, maxUdpResponse) are TC=1 with the question; TCP and DoH get all', async () => {
    const { engine } = setup({ count: 4 }); // 4 × 200-byte TXT ≈ 880 bytes
    const noEdns = decode((await engine.handle(makeQuery('t.example', { type: 'TXT' }), client, 'udp'))!);
    expect(noEdns.flag_tc).toBe(true);
    expect(noEdns.questions?.[0]?.name).toBe('t.example');
    const edns = decode((await engine.handle(makeQuery('t.example', { type: 'TXT', edns: { size: 1232 } }), client, 'udp'))!);
    expect(edns.flag_tc).toBe(false);
    expect(edns.answers).toHaveLength(4);
    const tcp = decode((await engine.handle(makeQuery('t.example', { type: 'TXT' }), client, 'tcp'))!);
    expect(tcp.answers).toHaveLength(4);
    const doh = decode((await engine.handle(makeQuery('t.example', { type: 'TXT' }), client, 'doh'))!);
    expect(doh.answers).toHaveLength(4);
  });

  it('maxUdpResponse caps a client advertising more', async () => {
    const { engine } = setup({ count: 8, abuse: { maxUdpResponse: 1232 } }); // ≈ 1.7 KB
    const out = (await engine.handle(makeQuery('big.example', { type: 'TXT', edns: { size: 65000 } }), client, 'udp'))!;
    expect(out.length).toBeLessThanOrEqual(1232);
    expect(decode(out).flag_tc).toBe(true);
  });

  it('an observer that throws costs nobody an answer', () => {
    const engine = createDnsEngine({
      config: dnsConfig(),
      filter: fakeFilter({ 'b.example': 'nxdomain' }),
      clients: fakeClients(),
      upstream: fakeUpstream(),
      observer: {
        onQuery: () => {
          throw new Error('boom');
        },
      },
    });
    expect(rcodeOf(engine.handle(makeQuery('b.example'), client, 'udp') as Buffer)).toBe(3);
  });
});
