/**
 * A bounded cache with O(1) get and set and no per-entry bookkeeping: two generations of
 * Maps. New entries go to the young one; when it is full it becomes the old one and the
 * previous old one is dropped; a hit in the old generation is copied to the young one, so
 * what is in use survives. At most 2 x `limit` entries are held.
 *
 * (Evicting one entry at a time with `map.keys().next()` looks cheaper but is not: V8 leaves
 * deleted slots in place until the table is rebuilt, so that iterator walks ever more holes.)
 */
export class DecisionCache<V> {
  readonly #limit: number;
  #young = new Map<string, V>();
  #old = new Map<string, V>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(key: string): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const o = this.#old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, value: V): void {
    if (this.#young.size >= this.#limit) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** Entries held, counting a key present in both generations twice (an upper bound). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }
}
