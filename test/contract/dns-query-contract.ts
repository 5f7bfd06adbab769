/**
 * Store contract cases for the DNS query log (core/dns/query-log.ts): called from
 * runStoreContract, so every Store implementation runs them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { DnsQueryRecord } from '../../src/core/dns/types.ts';
import type { Store } from '../../src/core/ports.ts';

const T0 = 1_700_000_000_000;

function q(overrides: Partial<DnsQueryRecord> = {}): DnsQueryRecord {
  return {
    at: T0,
    client: '192.0.2.10',
    deviceId: 'cam-1',
    segment: 'cameras',
    transport: 'udp',
    name: 'time.example.com',
    qtype: 1,
    rcode: 0,
    outcome: 'forwarded',
    blockedBy: null,
    latencyUs: 1234,
    ...overrides,
  };
}

export function runDnsQueryContract(current: () => Store): void {
  describe('dns query log', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('round-trips every field, lists newest first, and an empty batch writes nothing', async () => {
      await store.dnsQueries.insertMany([]);
      expect(await store.dnsQueries.list({ limit: 10 })).toEqual([]);
      const blocked = q({ at: T0 + 1, client: '2001:db8::7', deviceId: null, segment: null, transport: 'doh', name: 'xn--bcher-kva.example', qtype: 28, rcode: 3, outcome: 'blocked', blockedBy: { list: 'palisade-iot-threats', rule: '||bücher^' }, latencyUs: 0 });
      await store.dnsQueries.insertMany([q(), blocked]);
      const rows = await store.dnsQueries.list({ limit: 10 });
      expect(rows).toHaveLength(2);
      expect(rows[0]!.id).toBeGreaterThan(rows[1]!.id);
      const { id: _a, ...first } = rows[1]!;
      const { id: _b, ...second } = rows[0]!;
      expect(first).toEqual(q());
      expect(second).toEqual(blocked);
    });

    it('stores a time with a fraction of a millisecond (the engine uses a high-resolution clock) to the millisecond', async () => {
      await store.dnsQueries.insertMany([q({ at: T0 + 0.625, latencyUs: 12.5 })]);
      const [row] = await store.dnsQueries.list({ limit: 1 });
      expect(row).toMatchObject({ at: T0, latencyUs: 13 });
    });

    it('filters by device, exact name, substring (case-insensitive), outcome, time and page', async () => {
      await store.dnsQueries.insertMany([
        q({ at: T0, deviceId: 'cam-1', name: 'a.example.com' }),
        q({ at: T0 + 10, deviceId: 'cam-2', name: 'b.example.com', outcome: 'cached' }),
        q({ at: T0 + 20, deviceId: 'cam-1', name: 'evil.test', outcome: 'blocked', rcode: 3, blockedBy: { list: 'l', rule: 'evil.test' } }),
        q({ at: T0 + 30, deviceId: null, name: 'a.example.com' }),
      ]);
      const names = async (f: Parameters<Store['dnsQueries']['list']>[0]): Promise<string[]> => (await store.dnsQueries.list(f)).map((r) => `${r.deviceId}:${r.name}`);
      expect(await names({ deviceId: 'cam-1', limit: 10 })).toEqual(['cam-1:evil.test', 'cam-1:a.example.com']);
      expect(await names({ name: 'a.example.com', limit: 10 })).toEqual(['null:a.example.com', 'cam-1:a.example.com']);
      expect(await names({ nameContains: 'EXAMPLE', limit: 10 })).toEqual(['null:a.example.com', 'cam-2:b.example.com', 'cam-1:a.example.com']);
      expect(await names({ outcome: 'blocked', limit: 10 })).toEqual(['cam-1:evil.test']);
      expect(await names({ since: T0 + 10, deviceId: 'cam-1', limit: 10 })).toEqual(['cam-1:evil.test']);
      expect(await names({ limit: 2 })).toEqual(['null:a.example.com', 'cam-1:evil.test']);
      const page1 = await store.dnsQueries.list({ limit: 2 });
      expect(await names({ limit: 2, beforeId: page1[1]!.id })).toEqual(['cam-2:b.example.com', 'cam-1:a.example.com']);
      expect(await names({ nameContains: 'nothing-like-this', limit: 10 })).toEqual([]);
      expect(await names({ limit: 0 })).toEqual([]);
    });

    it('prunes by age, in slices when given a limit, and counts by outcome and name', async () => {
      const batch = Array.from({ length: 10 }, (_, i) => q({ at: T0 + i * 1000, outcome: i % 2 === 0 ? 'forwarded' : 'blocked', name: i < 7 ? 'often.example' : `rare-${i}.example` }));
      await store.dnsQueries.insertMany(batch);
      const counts = await store.dnsQueries.countsByOutcome(T0);
      expect(counts).toEqual({ cached: 0, forwarded: 5, stale: 0, blocked: 5, refused: 0, formerr: 0, servfail: 0, ratelimited: 0 });
      expect((await store.dnsQueries.countsByOutcome(T0 + 5000)).forwarded).toBe(2);
      expect(await store.dnsQueries.topNames(T0, 2)).toEqual([
        { name: 'often.example', count: 7 },
        { name: 'rare-7.example', count: 1 },
      ]);
      expect(await store.dnsQueries.topNames(T0, 5, 'blocked')).toEqual([
        { name: 'often.example', count: 3 },
        { name: 'rare-7.example', count: 1 },
        { name: 'rare-9.example', count: 1 },
      ]);
      expect(await store.dnsQueries.pruneBefore(T0 + 3000, 2)).toBe(2);
      expect(await store.dnsQueries.pruneBefore(T0 + 3000)).toBe(1);
      expect(await store.dnsQueries.pruneBefore(T0 + 3000)).toBe(0);
      const left = await store.dnsQueries.list({ limit: 100 });
      expect(left.map((r) => r.at)).toEqual(Array.from({ length: 7 }, (_, i) => T0 + (9 - i) * 1000));
    });
  });
}
