/**
 * Store contract cases for queues and device shadows (core/queues, core/shadows): called from
 * runStoreContract, so every Store implementation runs them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ShadowRecord, Store } from '../../src/core/ports.ts';

const BOUNDS = { maxMessages: 3, maxBytes: 100 };
const T0 = 1_700_000_000_000;

function leaseOpts(now: number, receipt: string, maxDeliveries = 3) {
  return { now, visibleAt: now + 1000, receipt, maxDeliveries, deadLetter: 'q.dlq', bounds: BOUNDS };
}

function shadow(version: number, reported: Record<string, number>): ShadowRecord {
  return { deviceId: 'd1', state: { desired: { a: 1 }, reported }, metadata: { desired: { a: { timestamp: 1 } }, reported: {} }, version, updatedAt: T0 + version };
}

export function runQueueShadowContract(current: () => Store): void {
  describe('queues', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('pushes in order, keeps payload bytes and properties, and refuses past the message bound', async () => {
      const bytes = Buffer.from([0, 255, 0xc3, 0x28]);
      const ids: Array<number | null> = [];
      for (let i = 0; i < 3; i++) ids.push(await store.queues.push('q', { payload: i === 0 ? bytes : Buffer.from(`m${i}`), properties: { contentType: 'x/y' }, enqueuedAt: T0 }, BOUNDS));
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      expect(await store.queues.push('q', { payload: Buffer.from('over'), properties: {}, enqueuedAt: T0 }, BOUNDS)).toBeNull();
      // Bounds are per queue.
      expect(await store.queues.push('other', { payload: Buffer.from('ok'), properties: {}, enqueuedAt: T0 }, BOUNDS)).not.toBeNull();
      const { message } = await store.queues.lease('q', leaseOpts(T0, 'r1'));
      expect(message?.payload.equals(bytes)).toBe(true);
      expect(message).toMatchObject({ queue: 'q', properties: { contentType: 'x/y' }, deliveries: 1, receipt: 'r1', visibleAt: T0 + 1000 });
      expect(await store.queues.stats('q', T0)).toEqual({ messages: 3, bytes: 4 + 2 + 2, inflight: 1 });
    });

    it('refuses past the byte bound', async () => {
      expect(await store.queues.push('q', { payload: Buffer.alloc(60), properties: {}, enqueuedAt: T0 }, BOUNDS)).not.toBeNull();
      expect(await store.queues.push('q', { payload: Buffer.alloc(41), properties: {}, enqueuedAt: T0 }, BOUNDS)).toBeNull();
      expect(await store.queues.push('q', { payload: Buffer.alloc(40), properties: {}, enqueuedAt: T0 }, BOUNDS)).not.toBeNull();
    });

    it('hides a leased message until its deadline, then leases it again under a new receipt', async () => {
      await store.queues.push('q', { payload: Buffer.from('a'), properties: {}, enqueuedAt: T0 }, BOUNDS);
      expect((await store.queues.lease('q', leaseOpts(T0, 'r1'))).message?.receipt).toBe('r1');
      expect((await store.queues.lease('q', leaseOpts(T0 + 999, 'r2'))).message).toBeNull();
      expect(await store.queues.nextVisibleAt('q', T0 + 999)).toBe(T0 + 1000);
      const again = (await store.queues.lease('q', leaseOpts(T0 + 1000, 'r3'))).message;
      expect(again).toMatchObject({ receipt: 'r3', deliveries: 2 });
      // The first lease's receipt no longer acks.
      expect(await store.queues.ack('q', 'r1')).toBe(false);
      expect(await store.queues.ack('q', 'r3')).toBe(true);
      expect(await store.queues.ack('q', 'r3')).toBe(false);
      expect((await store.queues.stats('q', T0)).messages).toBe(0);
    });

    it('nack makes a message visible at the given time and reports its deliveries', async () => {
      await store.queues.push('q', { payload: Buffer.from('a'), properties: {}, enqueuedAt: T0 }, BOUNDS);
      await store.queues.lease('q', leaseOpts(T0, 'r1'));
      expect(await store.queues.nack('q', 'r1', T0 + 50)).toBe(1);
      expect(await store.queues.nack('q', 'r1', T0)).toBeNull();
      expect((await store.queues.lease('q', leaseOpts(T0 + 49, 'r2'))).message).toBeNull();
      expect((await store.queues.lease('q', leaseOpts(T0 + 50, 'r2'))).message?.deliveries).toBe(2);
    });

    it('moves a message leased maxDeliveries times to the dead-letter queue, which keeps its newest', async () => {
      for (const p of ['a', 'b', 'c']) await store.queues.push('q', { payload: Buffer.from(p), properties: {}, enqueuedAt: T0 }, BOUNDS);
      for (let i = 0; i < 2; i++) {
        const m = (await store.queues.lease('q', leaseOpts(T0, `r${i}`, 2))).message;
        expect(m?.payload.toString()).toBe('a');
        await store.queues.nack('q', `r${i}`, T0);
      }
      const r = await store.queues.lease('q', leaseOpts(T0, 'r9', 2));
      expect(r.deadLettered).toHaveLength(1);
      expect(r.message?.payload.toString()).toBe('b');
      // Usage follows the move: the bound of each queue counts what it holds now.
      expect((await store.queues.stats('q', T0)).messages).toBe(2);
      expect(await store.queues.stats('q.dlq', T0)).toEqual({ messages: 1, bytes: 1, inflight: 0 });
      expect(await store.queues.push('q', { payload: Buffer.from('d'), properties: {}, enqueuedAt: T0 }, BOUNDS)).not.toBeNull();
      expect(await store.queues.push('q', { payload: Buffer.from('e'), properties: {}, enqueuedAt: T0 }, BOUNDS)).toBeNull();
      const dead = (await store.queues.lease('q.dlq', leaseOpts(T0, 'd1', 2))).message;
      expect(dead).toMatchObject({ queue: 'q.dlq', deliveries: 1 });
      expect(dead?.payload.toString()).toBe('a');
    });
  });

  describe('shadows', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('creates once, updates only from the expected version, and deletes', async () => {
      expect(await store.shadows.get('d1')).toBeNull();
      expect(await store.shadows.put(shadow(1, {}), 0)).toBe(true);
      expect(await store.shadows.put(shadow(1, {}), 0)).toBe(false);
      expect(await store.shadows.put(shadow(2, { a: 1 }), 1)).toBe(true);
      // A writer that read version 1 loses.
      expect(await store.shadows.put(shadow(2, { a: 2 }), 1)).toBe(false);
      expect(await store.shadows.get('d1')).toEqual(shadow(2, { a: 1 }));
      expect(await store.shadows.delete('d1')).toBe(true);
      expect(await store.shadows.delete('d1')).toBe(false);
    });
  });
}
