/**
 * De-duplication of incoming messages by (peer, message id) over EXCHANGE_LIFETIME
 * (RFC 7252 §4.5): a duplicate CON gets the same response again, not a second execution.
 * Bounded: past `max` entries the oldest go first, so a flood cannot grow it without end.
 */
export interface DedupEntry {
  expiresAt: number;
  /** The encoded response to replay; null while the request is still being processed. */
  response: Buffer | null;
}

export class DedupCache {
  readonly #entries = new Map<string, DedupEntry>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): DedupEntry | undefined {
    const e = this.#entries.get(key);
    if (e && e.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  add(key: string, lifetimeMs: number, now: number): DedupEntry {
    this.sweep(now);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    const e: DedupEntry = { expiresAt: now + lifetimeMs, response: null };
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e;
  }

  /** Insertion order is close to expiry order, so expired entries are found at the front. */
  sweep(now: number): void {
    for (const [k, e] of this.#entries) {
      if (e.expiresAt > now) break;
      this.#entries.delete(k);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
