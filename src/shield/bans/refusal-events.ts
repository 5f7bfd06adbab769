/**
 * Rate-limited security events for refusals (issue 5, point 1): a flood of refused connections
 * must not become a flood of event-log writes. The first refusal for a key (a ban id, an
 * address and reason) is recorded at once; further ones within `intervalMs` are counted and the
 * count goes into the next event for that key (`suppressed`).
 */
import type { EventLog } from '../../core/events/event-log.ts';
import type { Severity } from '../../core/ports.ts';

const MAX_KEYS = 10_000;

export class RefusalEvents {
  readonly #events: EventLog;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(events: EventLog, intervalMs = 10_000, now: () => number = Date.now) {
    this.#events = events;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Records the event unless one with this key was recorded within the interval; true when recorded. */
  record(key: string, type: string, severity: Severity, ctx: { principal?: string | null; source?: string | null; detail?: Record<string, unknown> }): boolean {
    const now = this.#now();
    const prev = this.#last.get(key);
    if (prev && now - prev.at < this.#intervalMs) {
      prev.suppressed++;
      return false;
    }
    if (!prev && this.#last.size >= MAX_KEYS) {
      for (const [k, v] of this.#last) if (now - v.at >= this.#intervalMs) this.#last.delete(k);
      if (this.#last.size >= MAX_KEYS) this.#last.delete(this.#last.keys().next().value!);
    }
    const suppressed = prev?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#events.record(type, severity, { principal: ctx.principal ?? null, source: ctx.source ?? null, detail: { ...(ctx.detail ?? {}), ...(suppressed > 0 ? { suppressed } : {}) } });
    return true;
  }
}
