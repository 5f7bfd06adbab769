/**
 * Brute force and credential stuffing (issue 3, point 4). Failures are counted per source
 * address, per username (device id) and per client certificate. Past a threshold a key is
 * banned for a time that doubles with each ban (exponential back-off), and the check runs
 * before any expensive work: before password hashing, and for addresses before the TLS
 * handshake completes.
 *
 * A device that authenticates correctly from another address is unaffected: the username ban
 * is not applied to addresses that have authenticated as that device before ("known good").
 */
export interface ThrottleLimits {
  /** Failures from one address before it is banned. */
  addressThreshold: number;
  /** Failures for one username (from all addresses) before new addresses are refused for it. */
  usernameThreshold: number;
  /** Failures with one certificate before it is banned. */
  certificateThreshold: number;
  /** First ban length; each further ban doubles it up to maxBanMs. */
  baseBanMs: number;
  maxBanMs: number;
  /** Failures older than this are forgotten; a key quiet this long returns to level 0. */
  windowMs: number;
}

export const defaultThrottleLimits: ThrottleLimits = {
  addressThreshold: 10,
  usernameThreshold: 20,
  certificateThreshold: 5,
  baseBanMs: 1000,
  maxBanMs: 3_600_000,
  windowMs: 900_000,
};

interface Counter {
  failures: number;
  firstAt: number;
  bannedUntil: number;
  level: number;
  lastAt: number;
}

export interface AttemptKeys {
  address: string;
  username: string | null;
  certSerial: string | null;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; key: 'address' | 'username' | 'certificate'; retryAfterMs: number };

const MAX_TRACKED = 100_000;

export class AuthThrottle {
  readonly #limits: ThrottleLimits;
  readonly #now: () => number;
  readonly #address = new Map<string, Counter>();
  readonly #username = new Map<string, Counter>();
  readonly #certificate = new Map<string, Counter>();
  /** username -> addresses that authenticated as it. */
  readonly #knownGood = new Map<string, Set<string>>();

  constructor(limits: Partial<ThrottleLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...defaultThrottleLimits, ...limits };
    this.#now = now;
  }

  /** Whether an address may even start (used before the TLS handshake). */
  checkAddress(address: string): ThrottleVerdict {
    return this.#verdict(this.#address.get(address), 'address');
  }

  check(k: AttemptKeys): ThrottleVerdict {
    const a = this.checkAddress(k.address);
    if (!a.allowed) return a;
    if (k.certSerial !== null) {
      const c = this.#verdict(this.#certificate.get(k.certSerial), 'certificate');
      if (!c.allowed) return c;
    }
    if (k.username !== null && !this.#knownGood.get(k.username)?.has(k.address)) {
      const u = this.#verdict(this.#username.get(k.username), 'username');
      if (!u.allowed) return u;
    }
    return { allowed: true };
  }

  /** Records a failure; returns the keys that became banned by it. */
  failure(k: AttemptKeys): Array<'address' | 'username' | 'certificate'> {
    const banned: Array<'address' | 'username' | 'certificate'> = [];
    if (this.#bump(this.#address, k.address, this.#limits.addressThreshold)) banned.push('address');
    if (k.username !== null && this.#bump(this.#username, k.username, this.#limits.usernameThreshold)) banned.push('username');
    if (k.certSerial !== null && this.#bump(this.#certificate, k.certSerial, this.#limits.certificateThreshold)) banned.push('certificate');
    return banned;
  }

  success(k: AttemptKeys): void {
    this.#address.delete(k.address);
    if (k.certSerial !== null) this.#certificate.delete(k.certSerial);
    if (k.username === null) return;
    let good = this.#knownGood.get(k.username);
    if (!good) {
      if (this.#knownGood.size >= MAX_TRACKED) this.#knownGood.clear();
      good = new Set();
      this.#knownGood.set(k.username, good);
    }
    if (good.size < 64) good.add(k.address);
  }

  #verdict(c: Counter | undefined, key: 'address' | 'username' | 'certificate'): ThrottleVerdict {
    if (!c) return { allowed: true };
    const now = this.#now();
    return c.bannedUntil > now ? { allowed: false, key, retryAfterMs: c.bannedUntil - now } : { allowed: true };
  }

  #bump(map: Map<string, Counter>, key: string, threshold: number): boolean {
    const now = this.#now();
    let c = map.get(key);
    if (c && now - c.lastAt > this.#limits.windowMs) {
      map.delete(key);
      c = undefined;
    }
    if (!c) {
      // Bounded memory under a spray of distinct keys: forget the oldest half.
      if (map.size >= MAX_TRACKED) for (const k of [...map.keys()].slice(0, MAX_TRACKED / 2)) map.delete(k);
      c = { failures: 0, firstAt: now, bannedUntil: 0, level: 0, lastAt: now };
      map.set(key, c);
    }
    c.failures++;
    c.lastAt = now;
    if (c.failures < threshold) return false;
    c.bannedUntil = now + Math.min(this.#limits.baseBanMs * 2 ** c.level, this.#limits.maxBanMs);
    c.level++;
    c.failures = 0;
    return true;
  }
}
