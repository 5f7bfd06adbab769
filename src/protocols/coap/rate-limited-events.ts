/**
 * Security events for refusals a flood can trigger thousands of times a second (malformed
 * datagrams, refused requests): at most one event per (type, address) per interval, carrying
 * how many were suppressed since the last one. Bounded: the table is cleared when it grows
 * past its cap, which at worst lets one more event per key through.
 */
import type { EventLog } from '../../core/events/event-log.ts';
import type { Severity } from '../../core/ports.ts';

export class RateLimitedEvents {
  readonly #events: Pick<EventLog, 'record'>;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #max: number;

  constructor(events: Pick<EventLog, 'record'>, intervalMs = 1000, max = 10_000) {
    this.#events = events;
    this.#intervalMs = intervalMs;
    this.#max = max;
  }

  record(type: string, severity: Severity, address: string, principal: string | null, detail: Record<string, unknown>): void {
    const key = `${type}|${address}`;
    const now = Date.now();
    const e = this.#last.get(key);
    if (e && now - e.at < this.#intervalMs) {
      e.suppressed++;
      return;
    }
    if (this.#last.size >= this.#max) this.#last.clear();
    const suppressed = e?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#events.record(type, severity, { principal, source: address, detail: suppressed > 0 ? { ...detail, suppressed } : detail });
  }
}
