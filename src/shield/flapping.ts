/**
 * Flapping detection (issue 5, point 1): a client that connects over and over. Connect
 * attempts are counted per client id, per username and per source address, each in a sliding
 * window; the attempt that makes one key exceed `maxConnects` within `windowSeconds` bans that
 * key for `banSeconds` (EMQX's defaults: 15 per minute, 5 minutes). Keyed three ways because
 * an attacker dodges a client-id key (EMQX's only key) by rotating client ids; the address and
 * username keys still count every attempt. Decided on CONNECT before authentication, so a
 * flapping client costs no password hashing.
 *
 * Addresses in `exemptAddresses` (default loopback: local bridges and sidecars reconnect
 * freely and are not the threat) are not counted at all.
 */
import { CidrSet, parseIp } from '../core/policy/cidr.ts';
import type { BanKind } from './bans/types.ts';

export interface FlappingSettings {
  enabled: boolean;
  maxConnects: number;
  windowSeconds: number;
  banSeconds: number;
  exemptAddresses: readonly string[];
}

export const defaultFlapping: FlappingSettings = { enabled: true, maxConnects: 15, windowSeconds: 60, banSeconds: 300, exemptAddresses: ['127.0.0.0/8', '::1'] };

export interface FlapKeys {
  address: string;
  clientId: string | null;
  username: string | null;
}

export interface Flap {
  kind: Extract<BanKind, 'address' | 'client-id' | 'username'>;
  value: string;
  connects: number;
}

/** Keys tracked per map before the oldest are dropped (a flood of one-shot keys cannot grow memory). */
const MAX_TRACKED = 100_000;

export class FlappingDetector {
  readonly #settings: FlappingSettings;
  readonly #exempt: CidrSet;
  readonly #now: () => number;
  /** kind -> key -> connect times in the window, oldest first (at most maxConnects + 1). */
  readonly #seen = new Map<Flap['kind'], Map<string, number[]>>([
    ['address', new Map()],
    ['client-id', new Map()],
    ['username', new Map()],
  ]);

  constructor(settings: Partial<FlappingSettings> = {}, now: () => number = Date.now) {
    this.#settings = { ...defaultFlapping, ...settings };
    this.#exempt = CidrSet.parse(this.#settings.exemptAddresses);
    this.#now = now;
  }

  get settings(): FlappingSettings {
    return this.#settings;
  }

  /** Counts one connect attempt; returns the keys that now exceed the limit (empty: fine). */
  record(keys: FlapKeys): Flap[] {
    if (!this.#settings.enabled) return [];
    const ip = parseIp(keys.address);
    if (ip !== null && this.#exempt.contains(ip)) return [];
    const now = this.#now();
    const flaps: Flap[] = [];
    const count = (kind: Flap['kind'], value: string | null): void => {
      if (value === null || value === '') return;
      const n = this.#count(kind, value, now);
      if (n > this.#settings.maxConnects) {
        flaps.push({ kind, value, connects: n });
        // Counting starts again after the ban, rather than re-banning on the next attempt.
        this.#seen.get(kind)!.delete(value);
      }
    };
    count('address', keys.address);
    count('client-id', keys.clientId);
    count('username', keys.username);
    return flaps;
  }

  #count(kind: Flap['kind'], value: string, now: number): number {
    const map = this.#seen.get(kind)!;
    const windowStart = now - this.#settings.windowSeconds * 1000;
    let times = map.get(value);
    if (times === undefined) {
      if (map.size >= MAX_TRACKED) {
        const oldest = map.keys().next();
        if (!oldest.done) map.delete(oldest.value);
      }
      times = [];
      map.set(value, times);
    }
    while (times.length > 0 && times[0]! <= windowStart) times.shift();
    times.push(now);
    if (times.length > this.#settings.maxConnects + 1) times.shift();
    return times.length;
  }
}
