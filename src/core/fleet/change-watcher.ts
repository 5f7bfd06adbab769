/**
 * Follows the store's change feed so a running gateway applies what any process changed
 * (`palisade policy put`, `palisade device move`, the admin API) without a restart: policies
 * are reloaded into the engine, devices are re-read and their live sessions re-authorised.
 *
 * Polling the feed is one indexed read per tick for the embedded store and works across
 * processes; a networked store could push behind the same handlers.
 */
import type { Change, ChangeRepo } from '../ports.ts';

export interface ChangeHandlers {
  /** Policies or attachments changed (names of the policies touched). */
  policies(names: ReadonlySet<string>): Promise<void>;
  /** These devices were created, changed or deleted. */
  devices(ids: ReadonlySet<string>): Promise<void>;
  /** A handler failed; the watcher goes on (the next change retries a reload). */
  onError(err: unknown): void;
}

/** How long feed rows are kept: long enough for any watcher, short enough to stay small. */
const RETENTION_MS = 24 * 3_600_000;
const PRUNE_EVERY_MS = 3_600_000;

export class ChangeWatcher {
  readonly #repo: ChangeRepo;
  readonly #handlers: ChangeHandlers;
  readonly #intervalMs: number;
  #cursor = 0;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #lastPrune = 0;

  constructor(repo: ChangeRepo, handlers: ChangeHandlers, intervalMs = 250) {
    this.#repo = repo;
    this.#handlers = handlers;
    this.#intervalMs = intervalMs;
  }

  /** Starts after what is already in the feed: the caller has just loaded current state. */
  async start(): Promise<void> {
    this.#cursor = await this.#repo.latest();
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  /** One poll (concurrent calls share it); exposed so tests and callers can apply at once. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    let batch: Change[];
    try {
      batch = await this.#repo.since(this.#cursor);
    } catch (err) {
      this.#handlers.onError(err);
      return;
    }
    while (batch.length > 0) {
      const policies = new Set<string>();
      const devices = new Set<string>();
      for (const c of batch) (c.kind === 'policy' ? policies : devices).add(c.key);
      // Policies first: a device moved into a segment must be judged by that segment's current policies.
      if (policies.size > 0) await this.#handlers.policies(policies).catch((err: unknown) => this.#handlers.onError(err));
      if (devices.size > 0) await this.#handlers.devices(devices).catch((err: unknown) => this.#handlers.onError(err));
      this.#cursor = batch.at(-1)!.seq;
      try {
        batch = await this.#repo.since(this.#cursor);
      } catch (err) {
        this.#handlers.onError(err);
        return;
      }
    }
    await this.#pruneNow();
  }

  async #pruneNow(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    await this.#repo.prune(now - RETENTION_MS).catch((err: unknown) => this.#handlers.onError(err));
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
