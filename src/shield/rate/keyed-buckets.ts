/**
 * Token buckets by key (a source address), bounded: when a new key arrives at `sweepAt` keys the
 * idle buckets go (an idle bucket is full, the same as a new one); if the table is still at
 * `maxKeys` (a spread-out flood keeps them all busy) the oldest keys make room. Used for
 * connection rates per address (shield/admission.ts) and DNS responses per client
 * (protocols/dns/response-rate.ts).
 */
import { TokenBucket } from './token-bucket.ts';

export class KeyedTokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #sweepAt: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(rate: number, burst: number, bounds: { sweepAt: number; maxKeys: number }) {
    this.#rate = rate;
    this.#burst = burst;
    this.#sweepAt = bounds.sweepAt;
    this.#maxKeys = Math.max(1, bounds.maxKeys);
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `n` tokens from `key`'s bucket; false when it has too few. */
  tryTake(key: string, n: number, now: number): boolean {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#sweepAt) {
        for (const [k, v] of this.#buckets) if (v.idle(now)) this.#buckets.delete(k);
        while (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      b = new TokenBucket(this.#rate, this.#burst, now);
      this.#buckets.set(key, b);
    }
    return b.tryTake(n, now);
  }
}
