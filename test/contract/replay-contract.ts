/**
 * Store contract cases for replay protection counters (core/replay): called from
 * runStoreContract, so every Store implementation runs them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ReplayCounterRecord, Store } from '../../src/core/ports.ts';

const T0 = 1_700_000_000_000;

function rec(deviceId: string, highest: number, clean = false, stream: 'up' | 'cmd' = 'up'): ReplayCounterRecord {
  return { deviceId, stream, highest, clean, updatedAt: T0 + highest };
}

export function runReplayContract(current: () => Store): void {
  describe('replay counters', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('upserts per device and stream, and never lowers a stored highest', async () => {
      await store.replay.save([rec('d1', 32), rec('d1', 7, false, 'cmd'), rec('d2', 1)]);
      await store.replay.save([rec('d1', 64)]);
      expect(await store.replay.get('d1', 'up')).toEqual(rec('d1', 64));
      expect(await store.replay.get('d1', 'cmd')).toEqual(rec('d1', 7, false, 'cmd'));
      // A late write below the stored value: highest stays, and it cannot claim to be exact.
      await store.replay.save([rec('d1', 40, true)]);
      const after = await store.replay.get('d1', 'up');
      expect(after?.highest).toBe(64);
      expect(after?.clean).toBe(false);
      expect(await store.replay.get('nobody', 'up')).toBeNull();
    });

    it('claim returns the stream and marks every record unclean', async () => {
      await store.replay.save([rec('a', 10, true), rec('b', 20, false), rec('c', 5, true, 'cmd')]);
      const claimed = await store.replay.claim('up', T0 + 999);
      expect(claimed.map((r) => [r.deviceId, r.highest, r.clean])).toEqual([
        ['a', 10, true],
        ['b', 20, false],
      ]);
      expect((await store.replay.get('a', 'up'))?.clean).toBe(false);
      // Other streams are not touched.
      expect((await store.replay.get('c', 'cmd'))?.clean).toBe(true);
      expect((await store.replay.claim('up', T0 + 1000)).every((r) => !r.clean)).toBe(true);
    });

    it('deletes a device across streams', async () => {
      await store.replay.save([rec('gone', 3), rec('gone', 4, true, 'cmd'), rec('kept', 1)]);
      expect(await store.replay.deleteDevice('gone')).toBe(2);
      expect(await store.replay.get('gone', 'up')).toBeNull();
      expect(await store.replay.get('kept', 'up')).not.toBeNull();
      expect(await store.replay.deleteDevice('gone')).toBe(0);
    });
  });
}
