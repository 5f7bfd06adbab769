/**
 * Nonce + timestamp replay window for one device (issue 5, point 5): a message is fresh when its
 * timestamp is within ±maxSkew of the gateway's clock and its nonce was not seen within that
 * span. Memory is bounded per device: past `cap` nonces the oldest is evicted, and from then on
 * anything stamped at or before the newest evicted timestamp (the horizon) is refused, since its
 * nonce can no longer be checked. Nonces older than the skew are dropped as time passes; a
 * replay of one fails the skew check instead.
 *
 * Not persisted: a restarted gateway sets the horizon to its start time, so nothing stamped
 * before the restart is accepted (a device whose clock lags may be refused for up to its lag).
 */
export type NonceCheck = 'ok' | 'skew' | 'duplicate' | 'stale';

export class NonceWindow {
  readonly #maxSkewMs: number;
  readonly #cap: number;
  /** nonce -> timestamp, in arrival order (Map keeps insertion order): the first is the oldest. */
  readonly #seen = new Map<string, number>();
  #horizon: number;

  constructor(opts: { maxSkewMs: number; cap: number; horizon: number }) {
    this.#maxSkewMs = opts.maxSkewMs;
    this.#cap = opts.cap;
    this.#horizon = opts.horizon;
  }

  get size(): number {
    return this.#seen.size;
  }

  get horizon(): number {
    return this.#horizon;
  }

  check(nonce: string, ts: number, now: number): NonceCheck {
    if (Math.abs(ts - now) > this.#maxSkewMs) return 'skew';
    if (ts <= this.#horizon) return 'stale';
    return this.#seen.has(nonce) ? 'duplicate' : 'ok';
  }

  accept(nonce: string, ts: number, now: number): void {
    this.#expire(now);
    this.#seen.set(nonce, ts);
    while (this.#seen.size > this.#cap) {
      const [oldest, oldestTs] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(oldest);
      if (oldestTs > this.#horizon) this.#horizon = oldestTs;
    }
  }

  /** Arrival order approximates timestamp order; one out of order just waits for the cap or the next pass. */
  #expire(now: number): void {
    const cutoff = now - this.#maxSkewMs;
    for (const [nonce, ts] of this.#seen) {
      if (ts >= cutoff) break;
      this.#seen.delete(nonce);
    }
  }
}
