/**
 * Counters that survive restarts without a write per message (RFC 8613 Appendix B.1.1, applied
 * to both a receive window and a send counter): the highest counter is written when it reaches
 * the last written value + K (and at a device's first counter), and exactly on clean stop.
 *
 * Invariant: every counter used (accepted or issued) is below persisted + K. So after a crash the
 * owner restarts at persisted + K - 1 ("all up to here are used"): nothing from before the crash
 * is accepted or issued again. After a clean stop it restarts at the exact value, losing nothing.
 *
 * With the SQLite store a write completes before `note` returns (the driver is synchronous);
 * with a networked store one write may be in flight when the process dies, so at most the
 * counters since the previous write (up to K) are exposed.
 */
import type { ReplayCounterRecord, ReplayStateRepo, ReplayStream } from './types.ts';

export class CounterPersistence {
  readonly #repo: ReplayStateRepo;
  readonly #stream: ReplayStream;
  readonly #every: number;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  /** Last value written per device. */
  readonly #written = new Map<string, number>();
  /** Current highest per device, for the clean-stop flush. */
  readonly #current = new Map<string, number>();

  constructor(deps: { repo: ReplayStateRepo; stream: ReplayStream; persistEvery: number; onError: (err: unknown) => void; now?: () => number }) {
    this.#repo = deps.repo;
    this.#stream = deps.stream;
    this.#every = deps.persistEvery;
    this.#onError = deps.onError;
    this.#now = deps.now ?? Date.now;
  }

  /** Loads (and claims) the stream; returns each device's starting highest. */
  async load(): Promise<Map<string, number>> {
    const start = new Map<string, number>();
    for (const r of await this.#repo.claim(this.#stream, this.#now())) {
      const highest = r.clean ? r.highest : r.highest + this.#every - 1;
      start.set(r.deviceId, highest);
      this.#written.set(r.deviceId, r.highest);
      this.#current.set(r.deviceId, highest);
    }
    return start;
  }

  /** Call once `counter` is used (accepted or issued) for the device. */
  note(deviceId: string, counter: number): void {
    const prev = this.#current.get(deviceId) ?? 0;
    if (counter > prev) this.#current.set(deviceId, counter);
    const written = this.#written.get(deviceId);
    if (written !== undefined && counter < written + this.#every) return;
    this.#written.set(deviceId, counter);
    this.#repo.save([this.#record(deviceId, counter, false)]).catch(this.#onError);
  }

  /** Clean stop: every device's exact highest, marked clean. */
  async flush(): Promise<void> {
    const records = [...this.#current].map(([id, h]) => this.#record(id, h, true));
    if (records.length === 0) return;
    await this.#repo.save(records);
    for (const r of records) this.#written.set(r.deviceId, r.highest);
  }

  #record(deviceId: string, highest: number, clean: boolean): ReplayCounterRecord {
    return { deviceId, stream: this.#stream, highest, clean, updatedAt: this.#now() };
  }
}
