/**
 * A token bucket: `rate` tokens per second, at most `burst` banked (message rates and, in
 * admission.ts, connection rates). `take` may push the balance
 * into debt (down to -burst) so a message that must not be dropped (MQTT QoS 1/2) is accepted
 * and the sender is told how long to wait instead; `tryTake` only succeeds within the balance.
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
  }

  /** Takes `n` if the balance covers it; else takes nothing and returns false. */
  tryTake(n: number, now: number): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Returns `n` taken by tryTake (another bucket of the same message refused it). */
  give(n: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + n);
  }

  /** Takes `n` even into debt (floored at -burst); returns ms until the balance is back to zero. */
  take(n: number, now: number): number {
    this.#refill(now);
    this.#tokens = Math.max(-this.burst, this.#tokens - n);
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.rate);
  }

  /** ms until `n` tokens are available (0 when they are now). */
  waitFor(n: number, now: number): number {
    this.#refill(now);
    const missing = Math.min(n, this.burst) - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.rate);
  }

  /** Full again (nothing taken for long enough): the holder may be forgotten. */
  idle(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }
}
