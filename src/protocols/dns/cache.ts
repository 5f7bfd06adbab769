/**
 * The answer cache. An upstream response is kept as wire bytes plus the offset of every TTL
 * field, so a hit is a buffer copy, an id patch, the asker's question bytes copied back in
 * (their 0x20 case) and the TTLs decremented — nothing is decoded.
 *
 * Keyed by (canonical name, qtype, qclass, DO bit): a map from name to a short chain of entries
 * (one per type asked), so a lookup builds no key string. LRU over all entries, bounded by
 * `maxEntries`. TTLs clamped to [minTtl, maxTtl]; negative answers (NXDOMAIN and NODATA) kept
 * per RFC 2308 §5 for min(SOA TTL, SOA MINIMUM), capped by maxNegativeTtl, and not at all
 * without an SOA. Expired entries stay up to `serveStaleSeconds` for RFC 8767 stale answers.
 * SERVFAIL and other failures, and truncated answers, are never cached.
 */
import type { DnsConfig } from '../../config/dns.ts';
import { EDE_NONE, OPT_LENGTH, writeOpt } from './edns.ts';
import { buildEmptyAnswer } from './responses.ts';
import { HEADER_LENGTH, RCODE_NOERROR, RCODE_NXDOMAIN, TYPE_OPT, TYPE_SOA, skipName, type DnsQuery } from './wire.ts';

export type DnsCacheOptions = DnsConfig['cache'];

/** One stored answer. Fields are mutable for the cache's own bookkeeping; callers only read. */
export class CacheEntry {
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly dnssecOk: boolean;
  /** The response: OPT removed, AA cleared, RA set, question canonical, TTLs clamped. */
  readonly wire: Buffer;
  readonly questionEnd: number;
  readonly ttlOffsets: Uint16Array;
  readonly rcode: number;
  readonly storedAt: number;
  /** Seconds the entry is fresh; 0 = not cacheable (served once, never stored). */
  readonly lifetime: number;
  readonly expiresAt: number;
  /** A hit from here on (the last 10 % of the lifetime) may prefetch. */
  readonly prefetchAt: number;
  readonly staleUntil: number;
  hits = 0;
  refreshing = false;
  prev: CacheEntry | null = null;
  next: CacheEntry | null = null;
  sibling: CacheEntry | null = null;

  constructor(key: { name: string; qtype: number; qclass: number; dnssecOk: boolean }, wire: Buffer, questionEnd: number, ttlOffsets: Uint16Array, rcode: number, storedAt: number, lifetime: number, staleSeconds: number) {
    this.name = key.name;
    this.qtype = key.qtype;
    this.qclass = key.qclass;
    this.dnssecOk = key.dnssecOk;
    this.wire = wire;
    this.questionEnd = questionEnd;
    this.ttlOffsets = ttlOffsets;
    this.rcode = rcode;
    this.storedAt = storedAt;
    this.lifetime = lifetime;
    this.expiresAt = storedAt + lifetime * 1000;
    this.prefetchAt = storedAt + lifetime * 900;
    this.staleUntil = this.expiresAt + staleSeconds * 1000;
  }
}

const TTL_MAX_SIGNED = 0x7fffffff;

/**
 * Indexes an upstream `response` to `upstreamQuery` (built by buildUpstreamQuery for `key`).
 * Null when it is malformed or answers another question (RFC 5452 §3; the forwarder checks
 * too). Never follows a compression pointer, so a pointer loop in the answer is harmless.
 */
export function prepareAnswer(
  response: Uint8Array,
  upstreamQuery: Uint8Array,
  key: { name: string; qtype: number; qclass: number; dnssecOk: boolean },
  opts: DnsCacheOptions,
  now: number,
): CacheEntry | null {
  const len = response.length;
  const qEnd = questionEndOf(upstreamQuery);
  if (qEnd < 0 || len < qEnd) return null;
  if ((response[2]! & 0x80) === 0 || (response[2]! & 0x78) !== 0) return null;
  if (response[4] !== 0 || response[5] !== 1) return null;
  // The name compares without case (an upstream may echo 0x20 case), qtype and qclass exactly.
  for (let i = HEADER_LENGTH; i < qEnd; i++) {
    const a = response[i]!;
    if ((i < qEnd - 4 && a >= 0x41 && a <= 0x5a ? a | 0x20 : a) !== upstreamQuery[i]) return null;
  }
  const an = (response[6]! << 8) | response[7]!;
  const ns = (response[8]! << 8) | response[9]!;
  const ar = (response[10]! << 8) | response[11]!;
  const rcode = response[3]! & 0xf;
  const truncated = (response[2]! & 0x02) !== 0;

  const offsets: number[] = [];
  const raw: number[] = [];
  let soaTtl = -1;
  let soaMinimum = -1;
  let off = qEnd;
  let cut = -1;
  let arKept = ar;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const start = off;
    off = skipName(response, off, len);
    if (off < 0 || off + 10 > len) return null;
    const type = (response[off]! << 8) | response[off + 1]!;
    const rdata = off + 10;
    const end = rdata + ((response[off + 8]! << 8) | response[off + 9]!);
    if (end > len) return null;
    if (type === TYPE_OPT) {
      if (i < an + ns) return null;
      // The upstream's OPT is dropped (the asker gets ours), and anything after it: records
      // after it could be pointed at by later ones, so cutting there keeps every pointer valid.
      cut = start;
      arKept = i - an - ns;
      break;
    }
    const ttl = readU32(response, off + 4);
    offsets.push(off + 4);
    // RFC 2181 §8: a TTL with the top bit set is 0.
    raw.push(ttl > TTL_MAX_SIGNED ? 0 : ttl);
    if (type === TYPE_SOA && i >= an && i < an + ns && soaTtl < 0) {
      let p = skipName(response, rdata, end);
      if (p >= 0) p = skipName(response, p, end);
      if (p < 0 || p + 20 > end) return null;
      soaTtl = ttl > TTL_MAX_SIGNED ? 0 : ttl;
      soaMinimum = readU32(response, p + 16);
    }
    off = end;
  }
  const wireLength = cut < 0 ? off : cut;
  const wire = Buffer.allocUnsafe(wireLength);
  wire.set(response.subarray(0, wireLength));
  wire.set(upstreamQuery.subarray(HEADER_LENGTH, qEnd), HEADER_LENGTH);
  wire[10] = arKept >> 8;
  wire[11] = arKept & 0xff;
  // Our answers are never authoritative (RFC 1035 §4.1.1), and we do offer recursion.
  wire[2] = response[2]! & ~0x04;
  wire[3] = response[3]! | 0x80;

  const negative = rcode === RCODE_NXDOMAIN || (rcode === RCODE_NOERROR && an === 0);
  let lifetime = truncated || (rcode !== RCODE_NOERROR && rcode !== RCODE_NXDOMAIN) ? 0 : Infinity;
  // RFC 2308 §5: negative answers without an SOA are not cached.
  let negativeTtl = 0;
  if (negative) negativeTtl = soaTtl < 0 ? 0 : Math.min(soaTtl, soaMinimum, opts.maxNegativeTtl);
  for (let i = 0; i < offsets.length; i++) {
    const t = negative ? Math.min(raw[i]!, negativeTtl) : Math.min(Math.max(raw[i]!, opts.minTtl), opts.maxTtl);
    writeU32(wire, offsets[i]!, t);
    if (i < an + ns && t < lifetime) lifetime = t;
  }
  if (negative && negativeTtl < lifetime) lifetime = negativeTtl;
  if (lifetime === Infinity) lifetime = 0;
  return new CacheEntry(key, wire, qEnd, Uint16Array.from(offsets), rcode, now, lifetime, opts.serveStaleSeconds);
}

function questionEndOf(query: Uint8Array): number {
  const p = skipName(query, HEADER_LENGTH, query.length);
  return p < 0 || p + 4 > query.length ? -1 : p + 4;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + ((b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!);
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/**
 * The answer to `query` from `entry`: the asker's id, RD and CD bits and question bytes, the
 * TTLs decremented by the entry's age (or all `staleTtl` for an RFC 8767 stale answer, when
 * >= 0), our OPT when the query had one. Larger than `limit` (the UDP size) → the truncated
 * answer with TC=1 (RFC 1035 §4.2.1, RFC 6891 §7) so the client retries over TCP.
 */
export function writeAnswer(entry: CacheEntry, query: Uint8Array, q: DnsQuery, now: number, limit: number, ourUdpSize: number, staleTtl: number): Buffer {
  const wire = entry.wire;
  const opt = q.edns ? OPT_LENGTH : 0;
  const total = wire.length + opt;
  if (total > limit) return buildEmptyAnswer(query, q, entry.rcode, ourUdpSize, EDE_NONE, true);
  const out = Buffer.allocUnsafe(total);
  out.set(wire);
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  out[2] = (wire[2]! & 0xfe) | (query[2]! & 0x01);
  out[3] = (wire[3]! & 0xef) | (query[3]! & 0x10);
  // The asker's own spelling of the name (0x20, draft-vixie-dnsext-dns0x20): same length as ours.
  for (let i = HEADER_LENGTH; i < q.questionEnd; i++) out[i] = query[i]!;
  const offsets = entry.ttlOffsets;
  const elapsed = Math.floor((now - entry.storedAt) / 1000);
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    let t = staleTtl;
    if (t < 0) {
      t = readU32(wire, o) - elapsed;
      if (t < 0) t = 0;
    }
    writeU32(out, o, t);
  }
  if (opt > 0) {
    writeOpt(out, wire.length, ourUdpSize, q.dnssecOk, entry.rcode, EDE_NONE);
    const ar = ((wire[10]! << 8) | wire[11]!) + 1;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }
  return out;
}

/** The LRU-bounded store of entries. */
export class DnsCache {
  readonly #max: number;
  readonly #byName = new Map<string, CacheEntry>();
  // Sentinel of the circular LRU list: head.next is the most recently used.
  readonly #head: { prev: CacheEntry | null; next: CacheEntry | null };
  #size = 0;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
    this.#head = { prev: null, next: null };
  }

  get size(): number {
    return this.#size;
  }

  /** The entry for the key, fresh or expired (the caller checks `expiresAt`), else undefined. */
  get(name: string, qtype: number, qclass: number, dnssecOk: boolean): CacheEntry | undefined {
    let e = this.#byName.get(name);
    while (e !== undefined && (e.qtype !== qtype || e.qclass !== qclass || e.dnssecOk !== dnssecOk)) e = e.sibling ?? undefined;
    return e;
  }

  /** Marks `e` most recently used. */
  touch(e: CacheEntry): void {
    if (this.#head.next === e) return;
    this.#unlinkLru(e);
    this.#pushFront(e);
  }

  /** Stores `e` (replacing the entry for its key), evicting the least recently used past the cap. */
  set(e: CacheEntry): void {
    if (this.#max === 0 || e.lifetime <= 0) return;
    const old = this.get(e.name, e.qtype, e.qclass, e.dnssecOk);
    if (old !== undefined) this.delete(old);
    e.sibling = this.#byName.get(e.name) ?? null;
    this.#byName.set(e.name, e);
    this.#pushFront(e);
    this.#size++;
    while (this.#size > this.#max) {
      const tail = this.#head.prev;
      if (tail === null) break;
      this.delete(tail);
    }
  }

  delete(e: CacheEntry): void {
    const first = this.#byName.get(e.name);
    if (first === undefined) return;
    if (first === e) {
      if (e.sibling === null) this.#byName.delete(e.name);
      else this.#byName.set(e.name, e.sibling);
    } else {
      let p = first;
      while (p.sibling !== null && p.sibling !== e) p = p.sibling;
      if (p.sibling !== e) return;
      p.sibling = e.sibling;
    }
    e.sibling = null;
    this.#unlinkLru(e);
    this.#size--;
  }

  clear(): void {
    this.#byName.clear();
    this.#head.next = null;
    this.#head.prev = null;
    this.#size = 0;
  }

  #pushFront(e: CacheEntry): void {
    const first = this.#head.next;
    e.prev = null;
    e.next = first;
    if (first !== null) first.prev = e;
    else this.#head.prev = e;
    this.#head.next = e;
  }

  #unlinkLru(e: CacheEntry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else if (this.#head.next === e) this.#head.next = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else if (this.#head.prev === e) this.#head.prev = e.prev;
    e.prev = null;
    e.next = null;
  }
}
