/**
 * The anti-replay sliding window for monotonic counters: the highest counter accepted so far plus
 * a bitmap of the last W counters (RFC 6347 §4.1.2.6, RFC 8613 §7.4). A counter is accepted when
 * it is above the highest, or inside the window and not yet seen; a duplicate, or one at or below
 * `highest - W`, is refused. Counters are positive safe integers; 0 is never accepted.
 *
 * It lives in the device kit (no imports at all) because both ends need the same rule: the
 * gateway for device messages (shield/replay), the device for the gateway's commands.
 *
 * The bitmap is a ring indexed by `counter mod W`, so sliding forward clears only the slots the
 * window passes over (at most W) instead of shifting words.
 */

export type CounterCheck = 'ok' | 'duplicate' | 'stale';

export class CounterWindow {
  readonly size: number;
  readonly #bits: Uint32Array;
  #highest: number;

  /**
   * `highest`: every counter up to and including it counts as already seen (0: nothing seen).
   * A window restored after a restart starts this way, at the persisted value plus the skip.
   */
  constructor(size: number, highest = 0) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('window size must be a positive integer');
    this.size = size;
    this.#bits = new Uint32Array(Math.ceil(size / 32));
    this.#highest = highest;
    if (highest > 0) this.#bits.fill(0xffffffff);
  }

  get highest(): number {
    return this.#highest;
  }

  /** Does not change the window: accept only after the message passed every other check. */
  check(counter: number): CounterCheck {
    if (!Number.isSafeInteger(counter) || counter < 1) return 'stale';
    if (counter > this.#highest) return 'ok';
    if (counter <= this.#highest - this.size) return 'stale';
    return this.#has(counter) ? 'duplicate' : 'ok';
  }

  /** Records `counter` as seen; the caller checked it first. */
  accept(counter: number): void {
    if (counter > this.#highest) {
      const advance = counter - this.#highest;
      if (advance >= this.size) this.#bits.fill(0);
      else for (let c = this.#highest + 1; c < counter; c++) this.#clear(c);
      this.#highest = counter;
    }
    this.#set(counter);
  }

  /** check + accept in one step; returns the check. */
  admit(counter: number): CounterCheck {
    const r = this.check(counter);
    if (r === 'ok') this.accept(counter);
    return r;
  }

  #slot(counter: number): [number, number] {
    const i = counter % this.size;
    return [i >>> 5, 1 << (i & 31)];
  }

  #has(counter: number): boolean {
    const [w, m] = this.#slot(counter);
    return (this.#bits[w]! & m) !== 0;
  }

  #set(counter: number): void {
    const [w, m] = this.#slot(counter);
    this.#bits[w] = this.#bits[w]! | m;
  }

  #clear(counter: number): void {
    const [w, m] = this.#slot(counter);
    this.#bits[w] = this.#bits[w]! & ~m;
  }
}
