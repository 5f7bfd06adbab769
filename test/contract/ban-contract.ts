/**
 * Store contract cases for the ban list (core/bans): called from runStoreContract, so every
 * Store implementation runs them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.ts';

const T0 = 1_700_000_000_000;

export function runBanContract(current: () => Store): void {
  describe('bans', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('round-trips every field, assigns increasing ids, and lists active bans only when given a time', async () => {
      const a = await store.bans.add({ kind: 'address', value: '10.0.0.0/8', reason: 'scan', expiresAt: T0 + 1000, by: 'op', createdAt: T0 });
      const b = await store.bans.add({ kind: 'client-id', value: 'dev-ü', reason: 'flapping', expiresAt: null, by: 'flapping', createdAt: T0 });
      expect(b.id).toBeGreaterThan(a.id);
      expect(await store.bans.get(a.id)).toEqual({ id: a.id, kind: 'address', value: '10.0.0.0/8', reason: 'scan', expiresAt: T0 + 1000, by: 'op', createdAt: T0 });
      expect(await store.bans.get(b.id)).toEqual(b);
      expect((await store.bans.list()).map((r) => r.id)).toEqual([a.id, b.id]);
      expect((await store.bans.list(T0 + 999)).map((r) => r.id)).toEqual([a.id, b.id]);
      expect((await store.bans.list(T0 + 1000)).map((r) => r.id)).toEqual([b.id]);
      expect(await store.bans.get(9_999_999)).toBeNull();
    });

    it('removes and prunes, and the generation grows with every write', async () => {
      const g0 = await store.bans.generation();
      const a = await store.bans.add({ kind: 'username', value: 'u', reason: 'r', expiresAt: T0, by: 'op', createdAt: T0 });
      const b = await store.bans.add({ kind: 'certificate', value: 'ab12', reason: 'r', expiresAt: null, by: 'op', createdAt: T0 });
      const g1 = await store.bans.generation();
      expect(g1).toBeGreaterThan(g0);
      expect(await store.bans.pruneExpired(T0 + 1)).toBe(1);
      expect(await store.bans.get(a.id)).toBeNull();
      const g2 = await store.bans.generation();
      expect(g2).toBeGreaterThan(g1);
      expect(await store.bans.remove(b.id)).toBe(true);
      expect(await store.bans.remove(b.id)).toBe(false);
      expect(await store.bans.generation()).toBeGreaterThan(g2);
      expect(await store.bans.list()).toEqual([]);
    });
  });
}
