/**
 * The DNS engine: one query in wire form in, one answer in wire form out (or null: drop),
 * whatever the transport. The order of steps:
 *
 *   parse (unreadable → drop; malformed → FORMERR; EDNS version > 0 → BADVERS; opcode → NOTIMP)
 *   → per-client response rate limit (UDP and TCP; over → drop)
 *   → qtype ANY refused (RFC 8482 §4.2 permits it; it denies amplification)
 *   → who is asking (client directory) → the segment's filter (blocked → NXDOMAIN / 0.0.0.0 / REFUSED)
 *   → cache (fresh hit, maybe a background prefetch) → upstream (misses for one key coalesced)
 *   → answer, truncated to TC=1 when too big for the client's UDP size.
 *
 * The blocked and cached paths return a Buffer synchronously — they are what the benchmark
 * measures — with no closure, no dns-packet and no string but the name. Only a miss is a
 * Promise. Every query yields one DnsQueryRecord to the observer.
 */
import type { DnsConfig } from '../../config/dns.ts';
import type {
  DnsClientDirectory,
  DnsClientIdentity,
  DnsFilter,
  DnsOutcome,
  DnsQueryObserver,
  DnsQueryRecord,
  DnsTransport,
} from '../../core/dns/types.ts';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import { RateLimitedEvents } from '../coap/rate-limited-events.ts';
import { CacheEntry, DnsCache, prepareAnswer, writeAnswer } from './cache.ts';
import { EDE_BLOCKED, EDE_FILTERED } from './edns.ts';
import { ResponseRateLimiter } from './response-rate.ts';
import { buildBlockedAnswer, buildEmptyAnswer, buildUpstreamQuery } from './responses.ts';
import type { DnsUpstream } from './upstream-types.ts';
import {
  PARSE_BADVERS,
  PARSE_DROP,
  PARSE_NOTIMP,
  PARSE_OK,
  RCODE_BADVERS,
  RCODE_FORMERR,
  RCODE_NOTIMP,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  TYPE_ANY,
  parseQuery,
  type DnsQuery,
} from './wire.ts';

export interface DnsClientAddress {
  readonly address: string;
  readonly port: number;
}

export interface DnsEngineOptions {
  config: DnsConfig;
  filter: DnsFilter;
  clients: DnsClientDirectory;
  upstream: DnsUpstream;
  observer?: DnsQueryObserver | null;
  /** ms since epoch; injected by tests to move time. */
  now?: () => number;
  events?: Pick<EventLog, 'record'>;
  /**
   * RFC 8767 §5 client response timer: with an expired answer at hand, wait at most this long
   * for the upstream before answering stale (default 1800 ms, the RFC's suggestion).
   */
  staleAfterMs?: number;
}

export interface DnsEngineStats {
  queries: number;
  cacheHits: number;
  cacheMisses: number;
  prefetches: number;
  stale: number;
  blocked: number;
  dropped: number;
  upstreamFailures: number;
}

export interface DnsEngine {
  /** Answer to `query` (null = send nothing). Synchronous except on a cache miss. */
  handle(query: Buffer, client: DnsClientAddress, transport: DnsTransport): Buffer | null | Promise<Buffer | null>;
  readonly cache: DnsCache;
  readonly stats: Readonly<DnsEngineStats>;
}

/** Payload size we advertise upstream (DNS Flag Day 2020); the forwarder falls back to TCP past it. */
const UPSTREAM_UDP_SIZE = 1232;
/** RFC 1035 §4.2.1: a UDP answer without EDNS fits 512 octets. */
const CLASSIC_UDP_SIZE = 512;
/** TCP and DoH carry up to the 16-bit length (RFC 7766 §8, RFC 8484 §6). */
const STREAM_SIZE = 65_535;
/** Distinct upstream queries outstanding at once; past it a miss fails fast (stale or SERVFAIL). */
const MAX_INFLIGHT = 10_000;
const TIME_ORIGIN = performance.timeOrigin;
const NO_CLIENT: DnsClientIdentity = Object.freeze({ deviceId: null, segment: null });

export function createDnsEngine(opts: DnsEngineOptions): DnsEngine {
  return new Engine(opts);
}

class Engine implements DnsEngine {
  readonly cache: DnsCache;
  readonly stats: DnsEngineStats = { queries: 0, cacheHits: 0, cacheMisses: 0, prefetches: 0, stale: 0, blocked: 0, dropped: 0, upstreamFailures: 0 };
  readonly #cfg: DnsConfig;
  readonly #filter: DnsFilter;
  readonly #clients: DnsClientDirectory;
  readonly #upstream: DnsUpstream;
  readonly #observer: DnsQueryObserver | null;
  readonly #now: (() => number) | null;
  readonly #rate: ResponseRateLimiter;
  readonly #events: RateLimitedEvents | null;
  readonly #inflight = new Map<string, Promise<CacheEntry>>();
  readonly #maxUdp: number;
  readonly #refuseAny: boolean;
  readonly #prefetch: boolean;
  readonly #prefetchHits: number;
  readonly #staleAfterMs: number;

  constructor(opts: DnsEngineOptions) {
    this.#cfg = opts.config;
    this.#filter = opts.filter;
    this.#clients = opts.clients;
    this.#upstream = opts.upstream;
    this.#observer = opts.observer ?? null;
    this.#now = opts.now ?? null;
    this.#events = opts.events ? new RateLimitedEvents(opts.events) : null;
    const c = opts.config;
    this.cache = new DnsCache(c.cache.maxEntries);
    this.#rate = new ResponseRateLimiter(c.abuse.responsesPerSecond, c.abuse.responsesBurst);
    this.#maxUdp = c.abuse.maxUdpResponse;
    this.#refuseAny = c.abuse.refuseAny;
    this.#prefetch = c.cache.prefetch;
    this.#prefetchHits = c.cache.prefetchHits;
    this.#staleAfterMs = opts.staleAfterMs ?? 1800;
  }

  handle(query: Buffer, client: DnsClientAddress, transport: DnsTransport): Buffer | null | Promise<Buffer | null> {
    // One clock read: the monotonic one, turned into wall time (unless a test injected a clock).
    const t0 = performance.now();
    const now = this.#now === null ? TIME_ORIGIN + t0 : this.#now();
    this.stats.queries++;
    const q = parseQuery(query);
    if (q.status === PARSE_DROP) {
      this.stats.dropped++;
      this.#record(now, t0, client, NO_CLIENT, transport, q, -1, 'formerr', null);
      return null;
    }
    // Every answer counts against the client, errors too: a FORMERR reflects as well as any.
    // DoH runs over HTTPS, where the address is no forgery and HTTP's own limits apply.
    if (transport !== 'doh' && !this.#rate.allow(client.address, now)) {
      this.stats.dropped++;
      this.#events?.record('dns.rate_limited', 'warning', client.address, null, { limit: this.#cfg.abuse.responsesPerSecond });
      this.#record(now, t0, client, NO_CLIENT, transport, q, -1, 'ratelimited', null);
      return null;
    }
    if (q.status !== PARSE_OK) {
      const rcode = q.status === PARSE_BADVERS ? RCODE_BADVERS : q.status === PARSE_NOTIMP ? RCODE_NOTIMP : RCODE_FORMERR;
      // Who sends malformed queries matters to the telemetry; floods were cut by the limit above.
      this.#record(now, t0, client, this.#clients.lookup(client.address), transport, q, rcode, rcode === RCODE_NOTIMP ? 'refused' : 'formerr', null);
      return buildEmptyAnswer(query, q, rcode, this.#maxUdp);
    }
    const who = this.#clients.lookup(client.address);
    if (q.qtype === TYPE_ANY && this.#refuseAny) {
      this.#record(now, t0, client, who, transport, q, RCODE_REFUSED, 'refused', null);
      return buildEmptyAnswer(query, q, RCODE_REFUSED, this.#maxUdp);
    }
    const verdict = this.#filter.check(who.segment, q.name);
    if (verdict.blocked) {
      this.stats.blocked++;
      const ede = verdict.list === 'allowlist-mode' ? EDE_FILTERED : EDE_BLOCKED;
      const out = buildBlockedAnswer(query, q, verdict.answer, this.#maxUdp, ede);
      const rcode = verdict.answer === 'nxdomain' ? RCODE_NXDOMAIN : verdict.answer === 'refused' ? RCODE_REFUSED : 0;
      this.#record(now, t0, client, who, transport, q, rcode, 'blocked', { list: verdict.list, rule: verdict.rule });
      return out;
    }
    const e = this.cache.get(q.name, q.qtype, q.qclass, q.dnssecOk);
    if (e !== undefined && now < e.expiresAt) {
      this.stats.cacheHits++;
      this.cache.touch(e);
      e.hits++;
      // Prefetch: a popular name asked in the last 10 % of its TTL is refreshed in the background,
      // once (one in flight per entry), so its askers never wait for the upstream.
      if (this.#prefetch && now >= e.prefetchAt && e.hits >= this.#prefetchHits && !e.refreshing) this.#refresh(e, query, q);
      const out = writeAnswer(e, query, q, now, this.#limit(q, transport), this.#maxUdp, -1);
      this.#record(now, t0, client, who, transport, q, e.rcode, 'cached', null);
      return out;
    }
    this.stats.cacheMisses++;
    return this.#miss(query, q, client, who, transport, t0);
  }

  #clock(): number {
    return this.#now === null ? TIME_ORIGIN + performance.now() : this.#now();
  }

  #limit(q: DnsQuery, transport: DnsTransport): number {
    if (transport !== 'udp') return STREAM_SIZE;
    // RFC 6891 §7: the client's advertised size, never more than our cap.
    const size = q.edns ? q.udpSize : CLASSIC_UDP_SIZE;
    return size < this.#maxUdp ? size : this.#maxUdp;
  }

  async #miss(query: Buffer, q: DnsQuery, client: DnsClientAddress, who: DnsClientIdentity, transport: DnsTransport, t0: number): Promise<Buffer | null> {
    const at = this.#clock();
    let fresh: CacheEntry | null = null;
    const expired = this.cache.get(q.name, q.qtype, q.qclass, q.dnssecOk);
    try {
      const fetching = this.#fetch(query, q);
      // With a stale answer at hand the client waits at most staleAfterMs; the fetch goes on and
      // refreshes the cache when it lands.
      fresh = expired !== undefined && at <= expired.staleUntil ? await withTimer(fetching, this.#staleAfterMs) : await fetching;
    } catch (err) {
      this.stats.upstreamFailures++;
      this.#events?.record('dns.upstream_failed', 'warning', 'upstream', null, { error: err instanceof Error ? err.message : String(err) });
    }
    const now = this.#clock();
    if (fresh !== null && fresh.rcode !== RCODE_SERVFAIL) {
      this.#record(at, t0, client, who, transport, q, fresh.rcode, 'forwarded', null);
      return writeAnswer(fresh, query, q, now, this.#limit(q, transport), this.#maxUdp, -1);
    }
    // RFC 8767 §5: upstreams failing, an expired answer within the stale window is better than none.
    const stale = this.cache.get(q.name, q.qtype, q.qclass, q.dnssecOk);
    if (stale !== undefined && now <= stale.staleUntil) {
      this.stats.stale++;
      this.#record(at, t0, client, who, transport, q, stale.rcode, 'stale', null);
      return writeAnswer(stale, query, q, now, this.#limit(q, transport), this.#maxUdp, this.#cfg.cache.staleAnswerTtl);
    }
    if (stale !== undefined) this.cache.delete(stale);
    this.#record(at, t0, client, who, transport, q, RCODE_SERVFAIL, 'servfail', null);
    return buildEmptyAnswer(query, q, RCODE_SERVFAIL, this.#maxUdp);
  }

  #refresh(e: CacheEntry, query: Buffer, q: DnsQuery): void {
    e.refreshing = true;
    this.stats.prefetches++;
    this.#fetch(query, q).then(
      () => undefined,
      () => {
        e.refreshing = false;
      },
    );
  }

  /** The upstream's answer for q's key; concurrent calls for one key share one upstream query. */
  #fetch(query: Buffer, q: DnsQuery): Promise<CacheEntry> {
    const key = `${q.name}\u0000${q.qtype}\u0000${q.qclass}\u0000${q.dnssecOk ? 1 : 0}`;
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    if (this.#inflight.size >= MAX_INFLIGHT) return Promise.reject(new PalisadeError(ErrorCodes.UPSTREAM_FAILED, 'too many upstream queries in flight'));
    const upstreamQuery = buildUpstreamQuery(query, q, UPSTREAM_UDP_SIZE);
    const k = { name: q.name, qtype: q.qtype, qclass: q.qclass, dnssecOk: q.dnssecOk };
    let p: Promise<CacheEntry>;
    try {
      p = this.#upstream.forward(upstreamQuery).then(
        (response) => {
          this.#inflight.delete(key);
          const entry = prepareAnswer(response, upstreamQuery, k, this.#cfg.cache, this.#clock());
          if (entry === null) throw new PalisadeError(ErrorCodes.UPSTREAM_FAILED, 'upstream answer is malformed or answers another question');
          this.cache.set(entry);
          return entry;
        },
        (err: unknown) => {
          this.#inflight.delete(key);
          throw err;
        },
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.#inflight.set(key, p);
    return p;
  }

  #record(at: number, t0: number, client: DnsClientAddress, who: DnsClientIdentity, transport: DnsTransport, q: DnsQuery, rcode: number, outcome: DnsOutcome, blockedBy: DnsQueryRecord['blockedBy']): void {
    const observer = this.#observer;
    if (observer === null) return;
    const record: DnsQueryRecord = {
      at,
      client: client.address,
      deviceId: who.deviceId,
      segment: who.segment,
      transport,
      name: q.name,
      qtype: q.qtype,
      rcode,
      outcome,
      blockedBy,
      latencyUs: Math.round((performance.now() - t0) * 1000),
    };
    try {
      observer.onQuery(record);
    } catch {
      // An observer's fault must not cost the client its answer.
    }
  }
}

/** `p`'s value, or null when `ms` pass first (p's later rejection is then ignored). */
function withTimer<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise<T | null>((resolve, reject) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
