/**
 * `dns` (issue 6): the DNS firewall — upstreams, cache, block and allow lists, per-segment
 * policy, query log and abuse bounds. The listener itself is `listeners.dns` (schema.ts).
 * Consumers: src/protocols/dns (server, cache, upstreams), src/core/dns (lists, policy).
 */
import { z } from 'zod';

const segmentName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);

/** How a blocked name is answered (Pi-hole's NXDOMAIN / NULL / REFUSED blocking modes). */
export const blockedAnswerSchema = z.enum(['nxdomain', 'null', 'refused']);

export const upstreamSchema = z.strictObject({
  address: z.string().min(1),
  /** Default 53 for udp/tcp, 853 for tls. */
  port: z.number().int().min(1).max(65535).nullable().default(null),
  /** udp (falls back to tcp on TC=1), tcp, or tls (DNS over TLS, RFC 7858). */
  protocol: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  /** tls: the name the upstream's certificate must carry; null = the address. */
  tlsServerName: z.string().min(1).nullable().default(null),
  /** tls: PEM file of CAs to trust instead of the system's (tests, private resolvers). */
  tlsCaFile: z.string().min(1).nullable().default(null),
});

/** A list source: a local file or an http(s) URL, refreshed on a schedule. */
export const listSchema = z.strictObject({
  source: z.string().min(1),
  /** auto: hosts lines, plain domains, adblock `||domain^`, `*.wildcards` and `/regex/` per line. */
  format: z.enum(['auto', 'hosts', 'domains', 'adblock', 'regex']).default('auto'),
  /** allow lists win over block lists. */
  kind: z.enum(['block', 'allow']).default('block'),
  /** URLs (and files) are re-read this often; 0 = only at start. */
  refreshSeconds: z.number().int().min(0).default(86_400),
});

/** One segment's DNS policy (and the default for clients that map to no segment rule). */
export const dnsPolicySchema = z.strictObject({
  /** filter: resolve unless a block list matches; allowlist: resolve only `allow` names (and allow lists). */
  mode: z.enum(['filter', 'allowlist']).default('filter'),
  /** Names of entries in `dns.lists` that block here; null = every block list (and the bundled one). */
  block: z.array(z.string().min(1)).nullable().default(null),
  /** Names of allow lists, and inline patterns (`example.com`, `*.example.com`, `/regex/`). */
  allow: z.array(z.string().min(1)).default([]),
  answer: blockedAnswerSchema.default('nxdomain'),
});

export const dnsSchema = z.strictObject({
  /** Default: DNS over TLS to Quad9 and Cloudflare; queries leave the site encrypted. */
  upstreams: z.array(upstreamSchema).min(1).default([
    { address: '9.9.9.9', protocol: 'tls', tlsServerName: 'dns.quad9.net', port: null, tlsCaFile: null },
    { address: '1.1.1.1', protocol: 'tls', tlsServerName: 'cloudflare-dns.com', port: null, tlsCaFile: null },
  ]),
  /** Per upstream attempt. */
  timeoutMs: z.number().int().min(50).max(30_000).default(2000),
  cache: z.strictObject({
    maxEntries: z.number().int().min(0).default(100_000),
    minTtl: z.number().int().min(0).default(0),
    maxTtl: z.number().int().min(1).default(86_400),
    /** Negative answers (NXDOMAIN, NODATA; RFC 2308) are kept at most this long. */
    maxNegativeTtl: z.number().int().min(0).default(3600),
    /** Refresh a name asked at least `prefetchHits` times when a query lands in the last 10 % of its TTL. */
    prefetch: z.boolean().default(true),
    prefetchHits: z.number().int().min(1).default(3),
    /** RFC 8767: answer from expired entries when every upstream fails, for up to this long. */
    serveStaleSeconds: z.number().int().min(0).default(86_400),
    /** TTL of a stale answer (RFC 8767 §4 recommends 30 s). */
    staleAnswerTtl: z.number().int().min(1).default(30),
  }).prefault({}),
  /** Named block and allow lists. */
  lists: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/), listSchema).default({}),
  /** The bundled IoT threat list (data/dns/iot-threats.txt), as block list `palisade-iot-threats`. */
  bundledThreatList: z.boolean().default(true),
  /** Policy for clients that map to no device or segment. */
  default: dnsPolicySchema.prefault({}),
  segments: z.record(segmentName, dnsPolicySchema).default({}),
  /** Addresses or CIDRs mapped to a segment, for clients that never connect over MQTT/HTTP/CoAP. */
  clients: z.record(z.string().min(1), segmentName).default({}),
  queryLog: z.strictObject({
    enabled: z.boolean().default(true),
    retentionDays: z.number().min(0).default(7),
    /**
     * Rows per second at most; past it queries are answered but not logged (counted, and reported
     * as `dns.query_log_shed`), so a query flood cannot become a write flood. 0 = no cap.
     */
    maxPerSecond: z.number().int().min(0).default(5000),
  }).prefault({}),
  abuse: z.strictObject({
    /** Largest UDP answer we send whatever the client advertises (DNS Flag Day 2020: 1232). */
    maxUdpResponse: z.number().int().min(512).max(65_535).default(1232),
    /** Answers per second to one client address (UDP and TCP), with a burst; past it, dropped. */
    responsesPerSecond: z.number().positive().default(100),
    responsesBurst: z.number().positive().default(200),
    /** Refuse qtype ANY (RFC 8482 allows a minimal answer; REFUSED is simpler and denies amplification). */
    refuseAny: z.boolean().default(true),
  }).prefault({}),
});

export type DnsConfig = z.infer<typeof dnsSchema>;
export type DnsPolicyConfig = z.infer<typeof dnsPolicySchema>;
export type DnsUpstreamConfig = z.infer<typeof upstreamSchema>;
export type DnsListConfig = z.infer<typeof listSchema>;
