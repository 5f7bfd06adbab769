/**
 * The anti-replay window of RFC 6347 §4.1.2.6: a 64-record sliding bitmap per epoch. A record is
 * checked before decryption (cheap rejection of duplicates and stale records) and marked only
 * after its MAC verified, so a forged record cannot advance the window.
 */
const WINDOW = 64n;

export class ReplayWindow {
  /** Highest sequence number received and authenticated, -1 when none yet. */
  #top = -1n;
  /** Bit i set = record (top - i) was received. */
  #bits = 0n;

  /** True when the record is new and inside (or ahead of) the window. */
  check(seq: bigint): boolean {
    if (seq > this.#top) return true;
    const offset = this.#top - seq;
    if (offset >= WINDOW) return false;
    return (this.#bits & (1n << offset)) === 0n;
  }

  /** Marks an authenticated record as received. */
  mark(seq: bigint): void {
    if (seq > this.#top) {
      const shift = seq - this.#top;
      this.#bits = shift >= WINDOW ? 1n : ((this.#bits << shift) | 1n) & ((1n << WINDOW) - 1n);
      this.#top = seq;
      return;
    }
    const offset = this.#top - seq;
    if (offset < WINDOW) this.#bits |= 1n << offset;
  }
}
