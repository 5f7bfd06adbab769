/**
 * Writes a signed checkpoint of the event log every N events recorded by this process or every
 * T milliseconds, whichever comes first, and one more at stop (config `events`). A timer tick
 * with nothing new since the last checkpoint writes nothing, so an idle gateway does not grow
 * the table. The timer also covers events other processes appended to the same database.
 */
import type { EventRepo } from '../ports.ts';
import { signCheckpoint, type EventCheckpoint, type EventSigner } from './checkpoint.ts';
import type { EventLog } from './event-log.ts';

export interface CheckpointerOptions {
  everyEvents: number;
  everyMs: number;
  onCheckpoint?: (cp: EventCheckpoint) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class EventCheckpointer {
  readonly #repo: EventRepo;
  readonly #log: EventLog;
  readonly #signer: EventSigner;
  readonly #opts: CheckpointerOptions;
  #timer: ReturnType<typeof setInterval> | null = null;
  #sinceLast = 0;
  #stopped = false;
  #running: Promise<EventCheckpoint | null> = Promise.resolve(null);

  constructor(repo: EventRepo, log: EventLog, signer: EventSigner, opts: CheckpointerOptions) {
    this.#repo = repo;
    this.#log = log;
    this.#signer = signer;
    this.#opts = opts;
  }

  start(): void {
    this.#log.onEvent(() => {
      if (this.#stopped || ++this.#sinceLast < this.#opts.everyEvents) return;
      this.#sinceLast = 0;
      void this.checkpoint();
    });
    this.#timer = setInterval(() => void this.checkpoint(), this.#opts.everyMs);
    this.#timer.unref();
  }

  /** Signs the log up to its newest event; null when nothing is new or the write failed. */
  checkpoint(): Promise<EventCheckpoint | null> {
    // One at a time, so two triggers close together cannot sign the same event twice.
    this.#running = this.#running.then(() => this.#write()).catch((err: unknown) => {
      this.#opts.onError?.(err);
      return null;
    });
    return this.#running;
  }

  /** Stops the timer and writes the final checkpoint (after the log's pending events). */
  async stop(): Promise<EventCheckpoint | null> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return this.checkpoint();
  }

  async #write(): Promise<EventCheckpoint | null> {
    await this.#log.flush();
    const last = await this.#repo.last();
    if (last === null) return null;
    const previous = await this.#repo.lastCheckpoint();
    if (previous !== null && previous.lastEventId >= last.id) return null;
    const count = await this.#repo.count(last.id);
    const ts = (this.#opts.now ?? Date.now)();
    const cp = await this.#repo.addCheckpoint(signCheckpoint(this.#signer, { lastEventId: last.id, lastHash: last.hash, count, ts }));
    this.#opts.onCheckpoint?.(cp);
    return cp;
  }
}
