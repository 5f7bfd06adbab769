/**
 * The security event log. Every decision the pipeline makes that an operator may need to see
 * (refused connection, denied publish, malformed packet, takeover) is recorded here. Events are
 * hash-chained (each carries the hash of the one before; event-hash.ts) so a deleted or edited
 * row shows, and signed checkpoints (checkpointer.ts) cover re-hashing and truncation.
 *
 * The store computes the chain inside its write transaction from the last stored row, so
 * several processes appending to one database keep one chain. Appends from this process are
 * still serialised through one promise chain so the id order equals the order of record(),
 * and a flood of events of one type is folded into counts so an attacker cannot fill the disk.
 */
import type { EventRepo, SecurityEventInput, Severity } from '../ports.ts';

export { GENESIS, hashEvent } from './event-hash.ts';
export { verifyChain } from './verify.ts';

export interface EventContext {
  principal?: string | null;
  source?: string | null;
  detail?: Record<string, unknown>;
}

export type EventListener = (event: SecurityEventInput) => void;

export class EventLog {
  readonly #repo: EventRepo;
  readonly #listeners: EventListener[] = [];
  readonly #observers: EventListener[] = [];
  readonly #maxPerSecond: number;
  #tail: Promise<void> = Promise.resolve();
  #windowStart = 0;
  /** Events per type in the current second: a flood of one type cannot crowd out another. */
  #windowCounts = new Map<string, number>();
  #suppressed = new Map<string, number>();

  constructor(repo: EventRepo, options: { maxPerSecond?: number } = {}) {
    this.#repo = repo;
    this.#maxPerSecond = options.maxPerSecond ?? 200;
  }

  onEvent(listener: EventListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Sees every record() call, also those the per-type budget folds into a count: for in-memory
   * counters (the anomaly detector), which must not go blind to one device while another floods.
   * Called synchronously on the hot path; no I/O.
   */
  onRecord(observer: EventListener): void {
    this.#observers.push(observer);
  }

  record(type: string, severity: Severity, ctx: EventContext = {}): void {
    const now = Date.now();
    if (this.#observers.length > 0) {
      const seen: SecurityEventInput = { ts: now, type, severity, principal: ctx.principal ?? null, source: ctx.source ?? null, detail: ctx.detail ?? {} };
      for (const o of this.#observers) o(seen);
    }
    if (now - this.#windowStart >= 1000) {
      this.#flushSuppressed(now);
      this.#windowStart = now;
      this.#windowCounts.clear();
    }
    const count = (this.#windowCounts.get(type) ?? 0) + 1;
    this.#windowCounts.set(type, count);
    if (count > this.#maxPerSecond) {
      this.#suppressed.set(type, (this.#suppressed.get(type) ?? 0) + 1);
      return;
    }
    this.#append({ ts: now, type, severity, principal: ctx.principal ?? null, source: ctx.source ?? null, detail: ctx.detail ?? {} });
  }

  /** Resolves once every event recorded so far is stored. */
  async flush(): Promise<void> {
    this.#flushSuppressed(Date.now());
    await this.#tail;
  }

  #flushSuppressed(now: number): void {
    if (this.#suppressed.size === 0) return;
    const counts = Object.fromEntries(this.#suppressed);
    this.#suppressed = new Map();
    this.#append({ ts: now, type: 'events.suppressed', severity: 'warning', principal: null, source: null, detail: { counts } });
  }

  #append(input: SecurityEventInput): void {
    for (const l of this.#listeners) l(input);
    this.#tail = this.#tail
      .then(async () => {
        await this.#repo.append(input);
      })
      .catch(() => {
        // A failing store must not stop later appends; the listeners already saw the event.
      });
  }
}
