/**
 * The DNS query log's writer (issue 6, point 4): a `DnsQueryObserver` the DNS engine calls once
 * per query. `onQuery` only puts the record in a bounded in-memory ring, so the DNS hot path
 * never waits on SQLite; the ring is written in one transaction per `batchSize` records, every
 * `flushMs` or as soon as a batch is full, one batch per event-loop turn so a large backlog
 * never blocks answers for long.
 *
 * When the store falls behind and the ring is full, the oldest record is dropped (the newest
 * say more about what a device is doing now) and counted; the count goes to the security
 * event log as `dns.query_log_dropped` at most once per `reportEveryMs`. Rows older than
 * `retentionDays` are pruned at start and every `pruneEveryMs`, in slices. `close()` writes
 * everything buffered.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DnsQueryLogRepo } from '../../core/dns/query-log.ts';
import type { DnsQueryObserver, DnsQueryRecord } from '../../core/dns/types.ts';
import type { EventContext } from '../../core/events/event-log.ts';
import type { Severity } from '../../core/ports.ts';

export interface QueryLogEventSink {
  record(type: string, severity: Severity, ctx?: EventContext): void;
}

export interface QueryLogWriterOptions {
  repo: DnsQueryLogRepo;
  events?: QueryLogEventSink | null;
  /** `dns.queryLog.retentionDays`; 0 keeps rows forever (no pruning). Fractions allowed. */
  retentionDays: number;
  /** Longest a record waits in memory (default 1000 ms). */
  flushMs?: number;
  /** Records per transaction (default 1000); a full batch is written on the next turn. */
  batchSize?: number;
  /** Records buffered at most (default 100 000, about 30 MB); beyond, the oldest are dropped. */
  maxBuffered?: number;
  /** Default hourly. */
  pruneEveryMs?: number;
  /** Rows deleted per prune statement (default 10 000). */
  pruneSlice?: number;
  /**
   * Rows logged per second at most (`dns.queryLog.maxPerSecond`); 0 = no cap. Past it queries are
   * answered but not logged, counted and reported as `dns.query_log_shed`: a query flood must not
   * become a write flood that takes the resolver down with it. (The anomaly tap sees every query.)
   */
  maxPerSecond?: number;
  /** Drops and write failures are reported at most this often (default 60 s). */
  reportEveryMs?: number;
  now?: () => number;
}

export interface QueryLogWriterStats {
  buffered: number;
  written: number;
  dropped: number;
  /** Not logged: over maxPerSecond. */
  shed: number;
  failed: number;
  pruned: number;
}

const DAY_MS = 86_400_000;

export class DnsQueryLogWriter implements DnsQueryObserver {
  readonly #repo: DnsQueryLogRepo;
  readonly #events: QueryLogEventSink | null;
  readonly #retentionMs: number;
  readonly #flushMs: number;
  readonly #batch: number;
  readonly #pruneEveryMs: number;
  readonly #pruneSlice: number;
  readonly #reportEveryMs: number;
  readonly #now: () => number;
  /** Ring buffer: `#count` records from `#head`. */
  readonly #ring: (DnsQueryRecord | undefined)[];
  #head = 0;
  #count = 0;
  #written = 0;
  #dropped = 0;
  #failed = 0;
  #pruned = 0;
  #unreportedDrops = 0;
  readonly #maxPerSecond: number;
  #second = -1;
  #inSecond = 0;
  #shed = 0;
  #unreportedShed = 0;
  #unreportedFailures = 0;
  #lastError = '';
  #lastReport = -Infinity;
  #tail: Promise<void> = Promise.resolve();
  #writing = false;
  #scheduled = false;
  #pruning: Promise<number> | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: QueryLogWriterOptions) {
    this.#repo = opts.repo;
    this.#events = opts.events ?? null;
    this.#retentionMs = opts.retentionDays * DAY_MS;
    this.#flushMs = opts.flushMs ?? 1000;
    this.#batch = Math.max(1, opts.batchSize ?? 1000);
    this.#pruneEveryMs = opts.pruneEveryMs ?? 3_600_000;
    this.#pruneSlice = Math.max(1, opts.pruneSlice ?? 10_000);
    this.#reportEveryMs = opts.reportEveryMs ?? 60_000;
    this.#maxPerSecond = Math.max(0, opts.maxPerSecond ?? 0);
    this.#now = opts.now ?? Date.now;
    this.#ring = new Array<DnsQueryRecord | undefined>(Math.max(1, opts.maxBuffered ?? 100_000));
  }

  get stats(): QueryLogWriterStats {
    return { buffered: this.#count, written: this.#written, dropped: this.#dropped, shed: this.#shed, failed: this.#failed, pruned: this.#pruned };
  }

  /** Starts the flush timer and the pruning schedule (a first prune runs now). */
  start(): void {
    if (this.#closed || this.#flushTimer) return;
    this.#flushTimer = setInterval(() => void this.flush(), this.#flushMs);
    this.#flushTimer.unref();
    if (this.#retentionMs > 0) {
      void this.prune();
      this.#pruneTimer = setInterval(() => void this.prune(), this.#pruneEveryMs);
      this.#pruneTimer.unref();
    }
  }

  /** Hot path: O(1), no I/O, never throws. */
  onQuery(record: DnsQueryRecord): void {
    if (this.#closed) {
      this.#drop(1);
      return;
    }
    if (this.#maxPerSecond > 0) {
      const second = Math.floor(record.at / 1000);
      if (second !== this.#second) {
        this.#second = second;
        this.#inSecond = 0;
      }
      if (++this.#inSecond > this.#maxPerSecond) {
        this.#shed++;
        this.#unreportedShed++;
        return;
      }
    }
    const cap = this.#ring.length;
    if (this.#count === cap) {
      // Full: the oldest record makes room.
      this.#ring[this.#head] = record;
      this.#head = (this.#head + 1) % cap;
      this.#drop(1);
    } else {
      this.#ring[(this.#head + this.#count) % cap] = record;
      this.#count++;
    }
    if (this.#count >= this.#batch && !this.#scheduled && !this.#writing) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.flush();
      });
    }
  }

  /** Resolves once every record buffered before the call is written (or counted as failed). */
  flush(): Promise<void> {
    this.#tail = this.#tail.then(() => this.#drain());
    return this.#tail;
  }

  /** Deletes rows past the retention, in slices with a turn of the event loop between; returns how many went. */
  prune(): Promise<number> {
    if (this.#retentionMs <= 0) return Promise.resolve(0);
    this.#pruning ??= this.#pruneSlices().finally(() => {
      this.#pruning = null;
    });
    return this.#pruning;
  }

  /** Stops the timers, writes everything buffered and reports any drops not yet reported. */
  async close(): Promise<void> {
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    this.#flushTimer = null;
    this.#pruneTimer = null;
    await this.flush();
    this.#closed = true;
    if (this.#pruning) await this.#pruning;
    this.#report(true);
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      let first = true;
      while (this.#count > 0) {
        if (!first) await nextTurn();
        first = false;
        const batch = this.#take(this.#batch);
        try {
          await this.#repo.insertMany(batch);
          this.#written += batch.length;
        } catch (err) {
          // The store is failing (disk full, locked too long): these records are lost, counted, reported.
          this.#failed += batch.length;
          this.#unreportedFailures += batch.length;
          this.#lastError = err instanceof Error ? err.message : String(err);
        }
      }
    } finally {
      this.#writing = false;
    }
    this.#report(false);
  }

  #take(n: number): DnsQueryRecord[] {
    const k = Math.min(n, this.#count);
    const cap = this.#ring.length;
    const out = new Array<DnsQueryRecord>(k);
    for (let i = 0; i < k; i++) {
      const at = (this.#head + i) % cap;
      out[i] = this.#ring[at]!;
      this.#ring[at] = undefined;
    }
    this.#head = (this.#head + k) % cap;
    this.#count -= k;
    return out;
  }

  async #pruneSlices(): Promise<number> {
    const cutoff = this.#now() - this.#retentionMs;
    let total = 0;
    try {
      for (;;) {
        const n = await this.#repo.pruneBefore(cutoff, this.#pruneSlice);
        total += n;
        if (n < this.#pruneSlice) break;
        await nextTurn();
      }
    } catch (err) {
      this.#events?.record('dns.query_log_prune_failed', 'warning', { detail: { error: err instanceof Error ? err.message : String(err) } });
    }
    this.#pruned += total;
    return total;
  }

  #drop(n: number): void {
    this.#dropped += n;
    this.#unreportedDrops += n;
  }

  #report(force: boolean): void {
    if (this.#unreportedDrops === 0 && this.#unreportedFailures === 0 && this.#unreportedShed === 0) return;
    const now = this.#now();
    if (!force && now - this.#lastReport < this.#reportEveryMs) return;
    this.#lastReport = now;
    if (this.#unreportedDrops > 0) {
      this.#events?.record('dns.query_log_dropped', 'warning', { detail: { dropped: this.#unreportedDrops, droppedTotal: this.#dropped, buffer: this.#ring.length } });
      this.#unreportedDrops = 0;
    }
    if (this.#unreportedShed > 0) {
      this.#events?.record('dns.query_log_shed', 'warning', { detail: { shed: this.#unreportedShed, shedTotal: this.#shed, maxPerSecond: this.#maxPerSecond } });
      this.#unreportedShed = 0;
    }
    if (this.#unreportedFailures > 0) {
      this.#events?.record('dns.query_log_failed', 'warning', { detail: { lost: this.#unreportedFailures, lostTotal: this.#failed, error: this.#lastError } });
      this.#unreportedFailures = 0;
    }
  }
}
