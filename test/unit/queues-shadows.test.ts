/**
 * Queue and shadow semantics in core over a real SQLite file: visibility timeout and
 * redelivery, ack/nack, dead-letter after N deliveries, bounds, restart survival, policy
 * refusals as events; shadow delta, versions and conflicts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/core/errors.ts';
import type { CompiledPolicy } from '../../src/core/policy/types.ts';
import type { Store } from '../../src/core/ports.ts';
import { QueueService, type QueueSettings } from '../../src/core/queues/service.ts';
import { ShadowService } from '../../src/core/shadows/service.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const SETTINGS: QueueSettings = { maxMessages: 3, maxBytes: 1000, maxMessageBytes: 500, visibilityTimeoutMs: 200, maxDeliveries: 2, maxWaitSeconds: 5 };
const OPERATOR = { principal: 'operator:test', source: null, policy: null };

function recorder(): { record: (type: string) => void; types: string[] } {
  const types: string[] = [];
  return { types, record: (type: string) => void types.push(type) };
}

/** Allows exactly the (action, resource) pairs listed. */
function policyAllowing(pairs: string[]): CompiledPolicy {
  return { authorize: (action, resource) => ({ allowed: pairs.includes(`${action} ${resource}`), rule: 'test' }) };
}

let dir: string;
let path: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-q-'));
  path = join(dir, 'p.db');
  store = await openSqliteStore(path);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('queues', () => {
  it('leases with a visibility timeout, redelivers after it, and ack deletes', async () => {
    const q = new QueueService({ repo: store.queues, events: recorder(), settings: SETTINGS });
    await q.push(OPERATOR, 'jobs', Buffer.from('one'));
    const first = await q.pull(OPERATOR, 'jobs');
    expect(first?.payload.toString()).toBe('one');
    expect(await q.pull(OPERATOR, 'jobs')).toBeNull();
    // A long poll returns the same message once the lease runs out (200 ms).
    const t0 = Date.now();
    const again = await q.pull(OPERATOR, 'jobs', { waitMs: 2000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(again).toMatchObject({ id: first!.id, deliveries: 2 });
    await expect(q.ack(OPERATOR, 'jobs', first!.receipt)).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    await q.ack(OPERATOR, 'jobs', again!.receipt);
    expect((await q.stats('jobs')).messages).toBe(0);
  });

  it('a long poll is woken by a push, and nack with a delay hides the message that long', async () => {
    const q = new QueueService({ repo: store.queues, events: recorder(), settings: { ...SETTINGS, visibilityTimeoutMs: 10_000 } });
    const waiting = q.pull(OPERATOR, 'jobs', { waitMs: 3000 });
    setTimeout(() => void q.push(OPERATOR, 'jobs', Buffer.from('late')), 50);
    const m = await waiting;
    expect(m?.payload.toString()).toBe('late');
    await q.nack(OPERATOR, 'jobs', m!.receipt, 300);
    expect(await q.pull(OPERATOR, 'jobs')).toBeNull();
    const t0 = Date.now();
    const back = await q.pull(OPERATOR, 'jobs', { waitMs: 2000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(back?.deliveries).toBe(2);
  });

  it('moves a message to <name>.dlq after maxDeliveries unacknowledged deliveries, with an event', async () => {
    const events = recorder();
    const q = new QueueService({ repo: store.queues, events, settings: SETTINGS });
    await q.push(OPERATOR, 'jobs', Buffer.from('poison'));
    for (let i = 0; i < SETTINGS.maxDeliveries; i++) {
      const m = await q.pull(OPERATOR, 'jobs');
      expect(m?.deliveries).toBe(i + 1);
      await q.nack(OPERATOR, 'jobs', m!.receipt);
    }
    expect(await q.pull(OPERATOR, 'jobs')).toBeNull();
    expect(events.types).toContain('queue.dead_lettered');
    const dead = await q.pull(OPERATOR, 'jobs.dlq');
    expect(dead?.payload.toString()).toBe('poison');
  });

  it('is bounded: QUEUE_FULL past maxMessages, PACKET_TOO_LARGE past maxMessageBytes, with events', async () => {
    const events = recorder();
    const q = new QueueService({ repo: store.queues, events, settings: SETTINGS });
    for (let i = 0; i < 3; i++) await q.push(OPERATOR, 'jobs', Buffer.from(`m${i}`));
    await expect(q.push(OPERATOR, 'jobs', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCodes.QUEUE_FULL });
    await expect(q.push(OPERATOR, 'big', Buffer.alloc(501))).rejects.toMatchObject({ code: ErrorCodes.PACKET_TOO_LARGE });
    expect(events.types).toEqual(['queue.full', 'queue.message_too_large']);
    // A client's long poll is capped at queues.maxWaitSeconds.
    expect(q.maxWaitMs(100)).toBe(5000);
    expect(q.maxWaitMs(2)).toBe(2000);
    // Acking makes room again.
    const m = await q.pull(OPERATOR, 'jobs');
    await q.ack(OPERATOR, 'jobs', m!.receipt);
    await q.push(OPERATOR, 'jobs', Buffer.from('fits'));
  });

  it('keeps unacknowledged messages across a close and reopen of the store; acknowledged ones stay gone', async () => {
    let q = new QueueService({ repo: store.queues, events: recorder(), settings: { ...SETTINGS, visibilityTimeoutMs: 100 } });
    await q.push(OPERATOR, 'jobs', Buffer.from('acked'));
    await q.push(OPERATOR, 'jobs', Buffer.from('in-flight'));
    await q.push(OPERATOR, 'jobs', Buffer.from('waiting'));
    await q.ack(OPERATOR, 'jobs', (await q.pull(OPERATOR, 'jobs'))!.receipt);
    expect((await q.pull(OPERATOR, 'jobs'))?.payload.toString()).toBe('in-flight');
    await store.close();
    store = await openSqliteStore(path);
    q = new QueueService({ repo: store.queues, events: recorder(), settings: { ...SETTINGS, visibilityTimeoutMs: 100 } });
    const got: string[] = [];
    for (;;) {
      const m = await q.pull(OPERATOR, 'jobs', { waitMs: 300 });
      if (!m) break;
      got.push(m.payload.toString());
      await q.ack(OPERATOR, 'jobs', m.receipt);
    }
    expect(got.sort()).toEqual(['in-flight', 'waiting']);
  });

  it('authorises queue:push, queue:pull and queue:ack on the name; each refusal is an event', async () => {
    const events = recorder();
    const q = new QueueService({ repo: store.queues, events, settings: SETTINGS });
    const producer = { principal: 'p1', source: '127.0.0.1:1', policy: policyAllowing(['queue:push jobs']) };
    const consumer = { principal: 'c1', source: '127.0.0.1:2', policy: policyAllowing(['queue:pull jobs']) };
    await q.push(producer, 'jobs', Buffer.from('x'));
    await expect(q.push(producer, 'other', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED });
    await expect(q.pull(producer, 'jobs')).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED });
    const m = await q.pull(consumer, 'jobs');
    await expect(q.ack(consumer, 'jobs', m!.receipt)).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED });
    await expect(q.push(OPERATOR, 'bad/name', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    expect(events.types).toEqual(['queue.push_denied', 'queue.pull_denied', 'queue.ack_denied']);
  });
});

describe('shadows', () => {
  it('computes the delta, increments the version, and refuses a stale version', async () => {
    const events = recorder();
    const s = new ShadowService({ repo: store.shadows, events, maxBytes: 1024 });
    const notified: Array<number> = [];
    s.onUpdate((_id, r) => notified.push(r.accepted.version));
    const r1 = await s.update(OPERATOR, 'lamp-1', { state: { desired: { on: true, color: { r: 255, g: 0 } } } });
    expect(r1.accepted).toMatchObject({ version: 1, state: { desired: { on: true } } });
    expect(r1.delta?.state).toEqual({ on: true, color: { r: 255, g: 0 } });
    const r2 = await s.update(OPERATOR, 'lamp-1', { state: { reported: { on: true, color: { r: 255, g: 10 } } }, version: 1 });
    expect(r2.accepted.version).toBe(2);
    // A reported-only update publishes no delta (AWS IoT), but get shows what still differs.
    expect(r2.delta).toBeNull();
    const view = await s.get(OPERATOR, 'lamp-1');
    expect(view.state.delta).toEqual({ color: { g: 0 } });
    expect(view.version).toBe(2);
    expect(view.metadata.reported).toMatchObject({ on: { timestamp: expect.any(Number) as number } });
    await expect(s.update(OPERATOR, 'lamp-1', { state: { desired: { on: false } }, version: 1 })).rejects.toMatchObject({ code: ErrorCodes.VERSION_CONFLICT });
    // null deletes a key; matching values leave no delta.
    await s.update(OPERATOR, 'lamp-1', { state: { desired: { color: null } } });
    expect((await s.get(OPERATOR, 'lamp-1')).state.delta).toBeUndefined();
    expect(notified).toEqual([1, 2, 3]);
    expect(events.types).toEqual(['shadow.version_conflict']);
  });

  it('refuses malformed and oversized updates, and another device’s shadow', async () => {
    const events = recorder();
    const s = new ShadowService({ repo: store.shadows, events, maxBytes: 64 });
    const device = { principal: 'lamp-1', source: null, policy: policyAllowing(['shadow:update lamp-1', 'shadow:get lamp-1']) };
    await expect(s.update(device, 'lamp-1', { state: { desired: 3 } })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(s.update(device, 'lamp-1', { nope: 1 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(s.update(device, 'lamp-1', { state: { reported: { blob: 'x'.repeat(100) } } })).rejects.toMatchObject({ code: ErrorCodes.PACKET_TOO_LARGE });
    await expect(s.update(device, 'lamp-2', { state: { reported: { on: true } } })).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED });
    await expect(s.get(device, 'lamp-1')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    expect(events.types).toEqual(['shadow.too_large', 'shadow.update_denied']);
  });
});
