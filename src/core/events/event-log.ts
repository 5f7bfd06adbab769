/**
 * The security event log. Every decision the pipeline makes that an operator may need to see
 * (refused connection, denied publish, malformed packet, takeover) is recorded here. Events are
 * hash-chained (each carries the hash of the one before) so a deleted or edited row shows.
 *
 * Appends are serialised through one promise chain so the chain order equals the id order, and
 * a flood of events of one type is folded into counts so an attacker cannot fill the disk.
 */
import { createHash } from 'node:crypto';
import type { EventRepo, SecurityEvent, SecurityEventInput, Severity } from '../ports.ts';

export interface EventContext {
  principal?: string | null;
  source?: string | null;
  detail?: Record<string, unknown>;
}

export type EventListener = (event: SecurityEventInput) => void;

const GENESIS = '0'.repeat(64);

export function hashEvent(prevHash: string, e: SecurityEventInput): string {
  return createHash('sha256')
    .update(prevHash)
    .update(JSON.stringify([e.ts, e.type, e.severity, e.principal, e.source, e.detail]))
    .digest('hex');
}

export class EventLog {
  readonly #repo: EventRepo;
  readonly #listeners: EventListener[] = [];
  readonly #maxPerSecond: number;
  #tail: Promise<void> = Promise.resolve();
  #lastHash: string | null = null;
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

  record(type: string, severity: Severity, ctx: EventContext = {}): void {
    const now = Date.now();
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
    this.#tail = this.#tail.then(async () => {
      if (this.#lastHash === null) this.#lastHash = (await this.#repo.last())?.hash ?? GENESIS;
      const hash = hashEvent(this.#lastHash, input);
      const stored: SecurityEvent = await this.#repo.append({ ...input, prevHash: this.#lastHash, hash });
      this.#lastHash = stored.hash;
    }).catch(() => {
      // A failing store must not break the chain of later appends; the listener already saw it.
      this.#lastHash = null;
    });
  }
}

/** Verifies the chain; returns the id of the first broken event, or null when intact. */
export function verifyChain(events: readonly SecurityEvent[], startHash: string = GENESIS): number | null {
  let prev = startHash;
  for (const e of events) {
    if (e.prevHash !== prev || hashEvent(prev, e) !== e.hash) return e.id;
    prev = e.hash;
  }
  return null;
}
