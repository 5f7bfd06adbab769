/**
 * A compact hash set of canonical domain names with a few flag bits each, built for lists of a
 * million names. A Map<string, number> of a million names cost ~1.2 s of inserts and ~2 s of
 * garbage collection here (a million strings promoted through the young generation) and
 * ~160 MB; this table keeps every name's bytes in one growable Uint8Array and open-addresses
 * them by index, so loading allocates no per-name object and the whole set is ~45 MB, outside
 * the JS heap.
 *
 * The hash (FNV-1a, 32 bit) runs over a name's characters from the LAST to the first, so one
 * right-to-left pass over a query yields the hash of every suffix in turn (`com`,
 * `example.com`, `a.example.com`): a lookup of all suffixes costs one pass over the name plus
 * one probe per label, and allocates nothing.
 *
 * Names are canonical (core/dns/lists/name.ts): ASCII, at most 253 characters.
 */

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const DOT = 46;

export class NameTable {
  #chars = new Uint8Array(1024);
  #charsUsed = 0;
  #offset = new Int32Array(64);
  #length = new Uint8Array(64);
  #hash = new Int32Array(64);
  #flags = new Uint8Array(64);
  #count = 0;
  /** Entry index + 1 per slot; 0 = empty. Capacity a power of two, load ≤ 1/2. */
  #slots = new Int32Array(128);
  #mask = 127;

  get size(): number {
    return this.#count;
  }

  /** ORs `flag` into `name`'s flags, adding the name if new. */
  add(name: string, flag: number): void {
    const len = name.length;
    if (len === 0 || len > 255) return; // canonical names are 1–253 characters
    let h = FNV_OFFSET;
    for (let i = len - 1; i >= 0; i--) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
    const found = this.#find(h, name, 0, len);
    if (found !== -1) {
      this.#flags[found] = (this.#flags[found] ?? 0) | flag;
      return;
    }
    if ((this.#count + 1) * 2 > this.#slots.length) this.#grow();
    const idx = this.#count++;
    if (idx >= this.#offset.length) this.#growEntries();
    if (this.#charsUsed + len > this.#chars.length) {
      const next = new Uint8Array(Math.max(1024, this.#chars.length * 2, this.#charsUsed + len));
      next.set(this.#chars.subarray(0, this.#charsUsed));
      this.#chars = next;
    }
    const chars = this.#chars;
    const off = this.#charsUsed;
    for (let i = 0; i < len; i++) chars[off + i] = name.charCodeAt(i);
    this.#charsUsed += len;
    this.#offset[idx] = off;
    this.#length[idx] = len;
    this.#hash[idx] = h;
    this.#flags[idx] = flag;
    this.#place(idx, h);
  }

  /** Drops the spare capacity growth left behind; call once the table is complete. */
  compact(): void {
    this.#chars = this.#chars.slice(0, this.#charsUsed);
    this.#offset = this.#offset.slice(0, this.#count);
    this.#length = this.#length.slice(0, this.#count);
    this.#hash = this.#hash.slice(0, this.#count);
    this.#flags = this.#flags.slice(0, this.#count);
  }

  /** Flags of `name` exactly, or 0. */
  get(name: string): number {
    let h = FNV_OFFSET;
    for (let i = name.length - 1; i >= 0; i--) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
    const found = this.#find(h, name, 0, name.length);
    return found === -1 ? 0 : (this.#flags[found] ?? 0);
  }

  /**
   * Walks `name`'s suffixes, longest last, and returns the start index of the LONGEST suffix
   * (the name itself counts) whose flags intersect: `ownMask` for the whole name, `suffixMask`
   * for a proper suffix. -1 when none. `flagsOut[0]` receives that entry's flags.
   */
  matchSuffix(name: string, ownMask: number, suffixMask: number, flagsOut: Uint8Array): number {
    const len = name.length;
    let h = FNV_OFFSET;
    let best = -1;
    for (let i = len - 1; i >= 0; i--) {
      h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
      if (i === 0 || name.charCodeAt(i - 1) === DOT) {
        const found = this.#find(h, name, i, len - i);
        if (found !== -1) {
          const f = this.#flags[found] ?? 0;
          if ((f & (i === 0 ? ownMask : suffixMask)) !== 0) {
            best = i;
            flagsOut[0] = f;
          }
        }
      }
    }
    return best;
  }

  /** Entry index of name[start, start+len) with hash h, or -1. */
  #find(h: number, name: string, start: number, len: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const chars = this.#chars;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = slots[s] ?? 0;
      if (v === 0) return -1;
      const idx = v - 1;
      if (this.#hash[idx] !== h || this.#length[idx] !== len) continue;
      const off = this.#offset[idx] ?? 0;
      let k = 0;
      while (k < len && chars[off + k] === name.charCodeAt(start + k)) k++;
      if (k === len) return idx;
    }
  }

  #place(idx: number, h: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let s = h & mask;
    while ((slots[s] ?? 0) !== 0) s = (s + 1) & mask;
    slots[s] = idx + 1;
  }

  #grow(): void {
    this.#slots = new Int32Array(this.#slots.length * 2);
    this.#mask = this.#slots.length - 1;
    for (let idx = 0; idx < this.#count; idx++) this.#place(idx, this.#hash[idx] ?? 0);
  }

  #growEntries(): void {
    const n = Math.max(64, this.#offset.length * 2);
    const offset = new Int32Array(n);
    offset.set(this.#offset);
    const length = new Uint8Array(n);
    length.set(this.#length);
    const hash = new Int32Array(n);
    hash.set(this.#hash);
    const flags = new Uint8Array(n);
    flags.set(this.#flags);
    this.#offset = offset;
    this.#length = length;
    this.#hash = hash;
    this.#flags = flags;
  }
}
