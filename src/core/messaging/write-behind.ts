/**
 * Coalesces the message-store writes of one tick into one transaction. Routing a QoS 1 message
 * to many persistent sessions, or a burst of acks, then costs one commit, not one per message.
 * `flushed()` lets a caller hold an acknowledgement (PUBACK, PUBREC) until the message is on
 * disk, so an acknowledged message survives a crash.
 */
import type { MessageRepo, MessageWrite } from '../ports.ts';

export class WriteBehind {
  readonly #repo: MessageRepo;
  readonly #onError: (err: unknown) => void;
  #batch: MessageWrite[] = [];
  #pending: Promise<void> | null = null;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(repo: MessageRepo, onError: (err: unknown) => void) {
    this.#repo = repo;
    this.#onError = onError;
  }

  get idle(): boolean {
    return this.#pending === null;
  }

  push(write: MessageWrite): void {
    this.#batch.push(write);
    this.#pending ??= this.#schedule();
  }

  /** Resolves when every write pushed so far is committed (or has failed and been reported). */
  flushed(): Promise<void> {
    return this.#pending ?? this.#inFlight;
  }

  #schedule(): Promise<void> {
    const previous = this.#inFlight;
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => previous)
      .then(async () => {
        const batch = this.#batch;
        this.#batch = [];
        this.#pending = null;
        if (batch.length > 0) await this.#repo.write(batch);
      })
      .catch((err: unknown) => this.#onError(err));
    this.#inFlight = run;
    return run;
  }
}
