/**
 * Which device (and so which segment) a DNS query comes from (issue 6, point 3). DNS carries no
 * identity, so the gateway uses what it already knows: the address each device last spoke from
 * on an authenticated protocol (MQTT connect, any message on MQTT, HTTPS or CoAP), and the
 * operator's static map of addresses and CIDR blocks to segments (`dns.clients`) for things
 * that only ever ask DNS. A learned device wins over a static block: it is the more specific
 * fact. Behind NAT every device of a site shares one address; the operator then maps the site's
 * address to a segment, and the last device seen there is only a best guess (documented).
 *
 * Lookups run once per query, so answers are memoised per address text and the memo is dropped
 * whenever a mapping changes (rare next to queries).
 */
import { cidrContains, formatAddress, parseCidr, parseIp, parseSourceAddress, type Cidr } from '../policy/cidr.ts';
import type { DnsClientDirectory, DnsClientIdentity } from './types.ts';

const UNKNOWN: DnsClientIdentity = Object.freeze({ deviceId: null, segment: null });
const MEMO_LIMIT = 50_000;

export interface LearnedClientDirectoryOptions {
  /** `dns.clients`: address or CIDR → segment. Malformed entries are the config's job to refuse. */
  staticClients?: Readonly<Record<string, string>>;
  /** Addresses remembered at most (least recently learned forgotten first). */
  maxAddresses?: number;
}

export class LearnedClientDirectory implements DnsClientDirectory {
  readonly #static: { cidr: Cidr; identity: DnsClientIdentity }[];
  readonly #learned = new Map<string, DnsClientIdentity>();
  readonly #memo = new Map<string, DnsClientIdentity>();
  /** Source text (`a.b.c.d:port`) → the address key and the entry it last learned. */
  readonly #sources = new Map<string, { key: string; identity: DnsClientIdentity }>();
  readonly #max: number;

  constructor(opts: LearnedClientDirectoryOptions = {}) {
    this.#max = opts.maxAddresses ?? 100_000;
    this.#static = [];
    for (const [text, segment] of Object.entries(opts.staticClients ?? {})) {
      const cidr = parseCidr(text);
      if (cidr) this.#static.push({ cidr, identity: Object.freeze({ deviceId: null, segment }) });
    }
    // Most specific block first.
    this.#static.sort((a, b) => b.cidr.bits - a.cidr.bits);
  }

  /**
   * A device was seen speaking from `source` (`a.b.c.d:port`, `[v6]:port` or a bare address)
   * in `segment`. Cheap when nothing changed: called for every passed message.
   */
  learn(source: string, deviceId: string, segment: string): void {
    // The common case, the same sender again from the same source, costs two lookups and no
    // parsing: the source's last learning still stands when its address maps to that very entry.
    const last = this.#sources.get(source);
    if (last !== undefined && this.#learned.get(last.key) === last.identity && last.identity.deviceId === deviceId && last.identity.segment === segment) return;
    const address = parseSourceAddress(source);
    if (address === null) return;
    const key = formatAddress(address);
    let identity = this.#learned.get(key);
    if (identity === undefined || identity.deviceId !== deviceId || identity.segment !== segment) {
      this.#learned.delete(key);
      if (this.#learned.size >= this.#max) this.#learned.delete(this.#learned.keys().next().value!);
      identity = Object.freeze({ deviceId, segment });
      this.#learned.set(key, identity);
      this.#memo.clear();
    }
    if (this.#sources.size >= this.#max) this.#sources.clear();
    this.#sources.set(source, { key, identity });
  }

  /** A device moved segment (quarantine, `palisade device move`): its addresses follow at once. */
  moved(deviceId: string, segment: string): void {
    let changed = false;
    for (const [key, id] of this.#learned) {
      if (id.deviceId === deviceId && id.segment !== segment) {
        this.#learned.set(key, Object.freeze({ deviceId, segment }));
        changed = true;
      }
    }
    if (changed) this.#memo.clear();
  }

  lookup(address: string): DnsClientIdentity {
    const memo = this.#memo.get(address);
    if (memo !== undefined) return memo;
    const identity = this.#resolve(address);
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
    this.#memo.set(address, identity);
    return identity;
  }

  #resolve(text: string): DnsClientIdentity {
    const address = parseIp(text);
    if (address === null) return UNKNOWN;
    const learned = this.#learned.get(formatAddress(address));
    if (learned !== undefined) return learned;
    for (const s of this.#static) if (cidrContains(s.cidr, address)) return s.identity;
    return UNKNOWN;
  }
}
