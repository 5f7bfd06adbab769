/**
 * Per-client response rate limit (dns.abuse.responsesPerSecond / responsesBurst): a token
 * bucket per source address; past it the query is dropped unanswered. On UDP a source address
 * can be forged, so this is what keeps the resolver from being an amplifier aimed at a victim
 * (the idea of BIND's response-rate-limiting, without its slip/truncate refinements).
 *
 * Bounded: at `maxClients` buckets the full (idle) ones are forgotten — an idle bucket is the
 * same as a new one — and if every bucket is busy the table starts over.
 */
import { TokenBucket } from '../../shield/rate/token-bucket.ts';

export class ResponseRateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(rate: number, burst: number, maxClients = 100_000) {
    this.#rate = rate;
    this.#burst = burst;
    this.#max = maxClients;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one response's token for `address`; false = over the limit, drop. */
  allow(address: string, now: number): boolean {
    let b = this.#buckets.get(address);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) this.#sweep(now);
      b = new TokenBucket(this.#rate, this.#burst, now);
      this.#buckets.set(address, b);
    }
    return b.tryTake(1, now);
  }

  #sweep(now: number): void {
    for (const [address, b] of this.#buckets) if (b.idle(now)) this.#buckets.delete(address);
    if (this.#buckets.size >= this.#max) this.#buckets.clear();
  }
}
