/**
 * Per-client response rate limit (dns.abuse.responsesPerSecond / responsesBurst): a token
 * bucket per source address; past it the query is dropped unanswered. On UDP a source address
 * can be forged, so this is what keeps the resolver from being an amplifier aimed at a victim
 * (the idea of BIND's response-rate-limiting, without its slip/truncate refinements).
 *
 * Bounded (shield/rate/keyed-buckets.ts): at `maxClients` buckets the idle ones are forgotten — an
 * idle bucket is the same as a new one — and if every bucket is busy the oldest clients make room.
 */
import { KeyedTokenBuckets } from '../../shield/rate/keyed-buckets.ts';

export class ResponseRateLimiter {
  readonly #buckets: KeyedTokenBuckets;

  constructor(rate: number, burst: number, maxClients = 100_000) {
    this.#buckets = new KeyedTokenBuckets(rate, burst, { sweepAt: maxClients, maxKeys: maxClients });
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one response's token for `address`; false = over the limit, drop. */
  allow(address: string, now: number): boolean {
    return this.#buckets.tryTake(address, 1, now);
  }
}
