/**
 * shield.admit (DESIGN.md §1): the first gate, decided on the remote address alone at accept,
 * before any parsing or cryptography (before the TLS handshake on TLS listeners). In order:
 * the ban list (addresses and CIDR blocks), the per-address connection rate, the global accept
 * rate, then the concurrent caps overall and per address (issue 5, point 1).
 *
 * Rates are token buckets (a sustained rate with a burst). The per-address bucket is checked
 * before the global one, so a flood from one address is refused by its own bucket without
 * spending the global budget that other devices share.
 */
import { KeyedTokenBuckets } from './rate/keyed-buckets.ts';
import { TokenBucket } from './rate/token-bucket.ts';
import type { BanList, BanRecord } from './bans/types.ts';

export interface ConnectionRateLimits {
  /** New connections per second from one address, sustained; 0 turns the limit off. */
  perAddressPerSecond: number;
  perAddressBurst: number;
  /** New connections per second over all addresses; 0 turns the limit off. */
  globalPerSecond: number;
  globalBurst: number;
}

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectionRate?: ConnectionRateLimits;
}

export type AdmissionRefusal = 'max-connections' | 'max-per-address' | 'address-rate' | 'global-rate' | 'banned';

export type AdmissionVerdict = { admitted: true } | { admitted: false; reason: Exclude<AdmissionRefusal, 'banned'> } | { admitted: false; reason: 'banned'; ban: BanRecord };

/** Address buckets kept before full ones are swept out; past ten times that the oldest go. */
const SWEEP_AT = 10_000;

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #perAddress = new Map<string, number>();
  readonly #perAddressRate: KeyedTokenBuckets | null;
  readonly #global: TokenBucket | null;
  readonly #now: () => number;
  #bans: BanList | null;
  #total = 0;

  constructor(limits: AdmissionLimits, opts: { bans?: BanList; now?: () => number } = {}) {
    this.#limits = limits;
    this.#now = opts.now ?? Date.now;
    this.#bans = opts.bans ?? null;
    const r = limits.connectionRate;
    this.#global = r && r.globalPerSecond > 0 ? new TokenBucket(r.globalPerSecond, r.globalBurst, this.#now()) : null;
    this.#perAddressRate = r && r.perAddressPerSecond > 0 ? new KeyedTokenBuckets(r.perAddressPerSecond, r.perAddressBurst, { sweepAt: SWEEP_AT, maxKeys: SWEEP_AT * 10 }) : null;
  }

  get total(): number {
    return this.#total;
  }

  /** Set after construction when the ban list loads later than admission is built. */
  useBans(bans: BanList): void {
    this.#bans = bans;
  }

  admit(address: string): AdmissionVerdict {
    const ban = this.#bans?.match({ address });
    if (ban) return { admitted: false, reason: 'banned', ban };
    const now = this.#now();
    if (this.#perAddressRate && !this.#perAddressRate.tryTake(address, 1, now)) return { admitted: false, reason: 'address-rate' };
    if (this.#global && !this.#global.tryTake(1, now)) return { admitted: false, reason: 'global-rate' };
    if (this.#total >= this.#limits.maxConnections) return { admitted: false, reason: 'max-connections' };
    const n = this.#perAddress.get(address) ?? 0;
    if (n >= this.#limits.maxConnectionsPerAddress) return { admitted: false, reason: 'max-per-address' };
    this.#perAddress.set(address, n + 1);
    this.#total++;
    return { admitted: true };
  }

  release(address: string): void {
    const n = this.#perAddress.get(address);
    if (n === undefined) return;
    if (n <= 1) this.#perAddress.delete(address);
    else this.#perAddress.set(address, n - 1);
    this.#total--;
  }

}
