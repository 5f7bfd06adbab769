/**
 * The DNS query-log writer (issue 6, point 4) on a real SQLite file: batching into one
 * transaction per batch, the flush timer, drop-oldest with a rate-limited drop event, flush on
 * close, write failures, retention pruning at start and on schedule, and the insert throughput.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DnsQueryLogRepo } from '../../src/core/dns/query-log.ts';
import type { DnsQueryRecord } from '../../src/core/dns/types.ts';
import type { Severity } from '../../src/core/ports.ts';
import { DnsQueryLogWriter } from '../../src/protocols/dns/query-log-writer.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-dnslog-'));
let counter = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

function rec(i: number, overrides: Partial<DnsQueryRecord> = {}): DnsQueryRecord {
  return { at: T0 + i, client: '192.0.2.7', deviceId: `dev-${i % 50}`, segment: 'sensors', transport: 'udp', name: `n${i}.example.com`, qtype: 1, rcode: 0, outcome: 'cached', blockedBy: null, latencyUs: 80, ...overrides };
}

interface Recorded {
  type: string;
  severity: Severity;
  detail: Record<string, unknown>;
}

/** Wraps the real repo to see each batch, and to hold writes back (a slow disk) when asked. */
function spyRepo(inner: DnsQueryLogRepo): { repo: DnsQueryLogRepo; batches: number[]; hold: () => () => void; fail: (on: boolean) => void } {
  const batches: number[] = [];
  let gate: Promise<void> | null = null;
  let failing = false;
  const repo: DnsQueryLogRepo = {
    insertMany: async (records) => {
      if (gate) await gate;
      if (failing) throw new Error('disk I/O error');
      batches.push(records.length);
      await inner.insertMany(records);
    },
    list: (f) => inner.list(f),
    pruneBefore: (b, l) => inner.pruneBefore(b, l),
    countsByOutcome: (s) => inner.countsByOutcome(s),
    topNames: (s, l, o) => inner.topNames(s, l, o),
  };
  return {
    repo,
    batches,
    hold: () => {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    fail: (on) => (failing = on),
  };
}

describe('DNS query-log writer', () => {
  let store: SqliteStore;
  let events: Recorded[];
  const sink = { record: (type: string, severity: Severity, ctx?: { detail?: Record<string, unknown> }) => events.push({ type, severity, detail: ctx?.detail ?? {} }) };

  beforeEach(async () => {
    store = await openSqliteStore(join(dir, `log-${++counter}.db`));
    events = [];
  });
  afterEach(async () => {
    await store.close();
  });

  const count = async (): Promise<number> => (await store.dnsQueries.list({ limit: 1_000_000 })).length;

  it('writes in batches of batchSize, one transaction each, and a full batch without waiting for the timer', async () => {
    const spy = spyRepo(store.dnsQueries);
    const w = new DnsQueryLogWriter({ repo: spy.repo, retentionDays: 0, batchSize: 1000, flushMs: 60_000 });
    for (let i = 0; i < 999; i++) w.onQuery(rec(i));
    await sleep(20);
    expect(spy.batches).toEqual([]);
    expect(w.stats.buffered).toBe(999);
    for (let i = 999; i < 2500; i++) w.onQuery(rec(i));
    await sleep(50);
    // The full batch triggered a write on the next turn; the remainder waits for the timer or a flush.
    expect(spy.batches.slice(0, 2)).toEqual([1000, 1000]);
    await w.flush();
    expect(spy.batches).toEqual([1000, 1000, 500]);
    expect(await count()).toBe(2500);
    expect(w.stats).toMatchObject({ buffered: 0, written: 2500, dropped: 0, failed: 0 });
    // Order is kept: the newest id is the last record handed in.
    expect((await store.dnsQueries.list({ limit: 1 }))[0]!.name).toBe('n2499.example.com');
    await w.close();
  });

  it('flushes on its timer (about every flushMs) and on close', async () => {
    const w = new DnsQueryLogWriter({ repo: store.dnsQueries, retentionDays: 0, flushMs: 40 });
    w.start();
    w.onQuery(rec(1));
    w.onQuery(rec(2));
    expect(await count()).toBe(0);
    await sleep(150);
    expect(await count()).toBe(2);
    w.onQuery(rec(3));
    await w.close();
    expect(await count()).toBe(3);
    // After close nothing is buffered any more; late records are counted as dropped.
    w.onQuery(rec(4));
    expect(w.stats.dropped).toBe(1);
    expect(w.stats.buffered).toBe(0);
  });

  it('drops the oldest when the buffer is full, counts it, and reports at most once a minute', async () => {
    let now = T0;
    const spy = spyRepo(store.dnsQueries);
    const w = new DnsQueryLogWriter({ repo: spy.repo, events: sink, retentionDays: 0, maxBuffered: 10, batchSize: 1000, now: () => now });
    for (let i = 0; i < 15; i++) w.onQuery(rec(i));
    expect(w.stats).toMatchObject({ buffered: 10, dropped: 5 });
    await w.flush();
    const names = (await store.dnsQueries.list({ limit: 100 })).map((r) => r.name).reverse();
    expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `n${i + 5}.example.com`));
    expect(events).toEqual([{ type: 'dns.query_log_dropped', severity: 'warning', detail: { dropped: 5, droppedTotal: 5, buffer: 10 } }]);

    // A slow disk: writes are held, the buffer fills again, more drops within the minute are not reported yet.
    const release = spy.hold();
    for (let i = 100; i < 112; i++) w.onQuery(rec(i));
    const pending = w.flush();
    await sleep(1); // the writer has taken the batch and waits on the disk
    for (let i = 200; i < 203; i++) w.onQuery(rec(i));
    release();
    await pending;
    await w.flush();
    expect(w.stats.dropped).toBe(7);
    expect(events).toHaveLength(1);
    now += 60_000;
    w.onQuery(rec(300));
    await w.flush();
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({ type: 'dns.query_log_dropped', severity: 'warning', detail: { dropped: 2, droppedTotal: 7, buffer: 10 } });
    await w.close();
    expect(events).toHaveLength(2);
  });

  it('logs at most maxPerSecond rows per second of query time, counts the rest as shed, and reports them', async () => {
    const w = new DnsQueryLogWriter({ repo: store.dnsQueries, events: sink, retentionDays: 0, maxPerSecond: 3, batchSize: 1000 });
    // Five queries in one second, then two in the next: 3 + 2 logged, 2 shed.
    for (let i = 0; i < 5; i++) w.onQuery(rec(i, { at: T0 + i * 100 }));
    for (let i = 5; i < 7; i++) w.onQuery(rec(i, { at: T0 + 1000 + i }));
    await w.flush();
    expect(w.stats).toMatchObject({ written: 5, shed: 2, dropped: 0 });
    const names = (await store.dnsQueries.list({ limit: 10 })).map((r) => r.name).reverse();
    expect(names).toEqual(['n0.example.com', 'n1.example.com', 'n2.example.com', 'n5.example.com', 'n6.example.com']);
    expect(events).toEqual([{ type: 'dns.query_log_shed', severity: 'warning', detail: { shed: 2, shedTotal: 2, maxPerSecond: 3 } }]);
    await w.close();
  });

  it('counts records lost to a failing store, reports them, and carries on when the store recovers', async () => {
    const spy = spyRepo(store.dnsQueries);
    const w = new DnsQueryLogWriter({ repo: spy.repo, events: sink, retentionDays: 0, batchSize: 4 });
    spy.fail(true);
    for (let i = 0; i < 6; i++) w.onQuery(rec(i));
    await w.flush();
    expect(w.stats).toMatchObject({ failed: 6, written: 0, buffered: 0 });
    expect(events.map((e) => e.type)).toEqual(['dns.query_log_failed']);
    expect(events[0]!.detail).toMatchObject({ lost: 6, error: 'disk I/O error' });
    spy.fail(false);
    w.onQuery(rec(7));
    await w.close();
    expect(await count()).toBe(1);
  });

  it('prunes past the retention at start, in slices, and again on its schedule', async () => {
    const now = T0 + 30 * DAY;
    const old = Array.from({ length: 25 }, (_, i) => rec(i, { at: now - 8 * DAY - i }));
    const recent = Array.from({ length: 5 }, (_, i) => rec(100 + i, { at: now - 6 * DAY }));
    await store.dnsQueries.insertMany([...old, ...recent]);
    const w = new DnsQueryLogWriter({ repo: store.dnsQueries, retentionDays: 7, pruneSlice: 10, pruneEveryMs: 40, now: () => now });
    w.start();
    expect(await w.prune()).toBe(25);
    expect(await count()).toBe(5);
    // A row that ages past the retention later goes on the next scheduled prune.
    await store.dnsQueries.insertMany([rec(999, { at: now - 7 * DAY - 1 })]);
    await sleep(150);
    expect(await count()).toBe(5);
    expect(w.stats.pruned).toBe(26);
    await w.close();
  });

  it('retention 0 keeps everything', async () => {
    await store.dnsQueries.insertMany([rec(1, { at: 0 })]);
    const w = new DnsQueryLogWriter({ repo: store.dnsQueries, retentionDays: 0 });
    w.start();
    expect(await w.prune()).toBe(0);
    await w.close();
    expect(await count()).toBe(1);
  });

  it('throughput: records/s into a real SQLite file, and the hot-path cost of onQuery', async () => {
    const N = 100_000;
    const records = Array.from({ length: N }, (_, i) => rec(i, { name: `host-${i % 5000}.vendor-cloud.example`, outcome: i % 10 === 0 ? 'blocked' : 'cached', blockedBy: i % 10 === 0 ? { list: 'palisade-iot-threats', rule: '||x^' } : null }));
    const w = new DnsQueryLogWriter({ repo: store.dnsQueries, retentionDays: 0, maxBuffered: N });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const r of records) w.onQuery(r);
    const t1 = performance.now();
    await w.close();
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    expect(await count()).toBe(N);
    const perSecond = Math.round(N / ((t2 - t0) / 1000));
    const perCpuSecond = Math.round(N / ((cpu.user + cpu.system) / 1e6));
    const hotNs = Math.round(((t1 - t0) * 1e6) / N);
    console.log(`dns query log: ${N} records in ${(t2 - t0).toFixed(0)} ms = ${perSecond} records/s wall, ${perCpuSecond} records per CPU-second (WAL, synchronous=NORMAL, 3 indexes, batches of 1000); onQuery ${hotNs} ns/record`);
    // Several times below what a loaded 2-core machine measures: only a collapse fails this.
    expect(perSecond).toBeGreaterThan(5_000);
    expect(hotNs).toBeLessThan(5_000);
  });
});
