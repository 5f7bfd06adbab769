/**
 * The DNS firewall's contracts between its parts (issue 6). Core holds the pure decisions (lists,
 * per-segment policy, telemetry scoring); src/protocols/dns holds the wire, the cache, the
 * upstreams and the listeners; the gateway wires them.
 *
 * Names crossing these interfaces are canonical: lower case ASCII (punycode stays as is), no
 * trailing dot, the root is ''.
 */

/** How a blocked name is answered: NXDOMAIN, 0.0.0.0 / :: (Pi-hole's NULL mode), or REFUSED. */
export type BlockedAnswer = 'nxdomain' | 'null' | 'refused';

export type FilterVerdict =
  | { readonly blocked: false }
  | {
      readonly blocked: true;
      readonly answer: BlockedAnswer;
      /** The list that matched ('allowlist-mode' when an allow-only segment had no allow match). */
      readonly list: string;
      /** The rule as written in the list (`||ads.example^`, `*.evil.test`, `/^x[0-9]+\./`). */
      readonly rule: string;
    };

/** Decides per segment whether a name may be resolved. Must be fast: called once per query. */
export interface DnsFilter {
  /** `segment` null: the client maps to no segment (the `dns.default` policy). */
  check(segment: string | null, name: string): FilterVerdict;
}

/** Who is asking, as far as the gateway knows from the source address. */
export interface DnsClientIdentity {
  readonly deviceId: string | null;
  readonly segment: string | null;
}

/** Maps a client's source address to a device and segment (registry sessions, `dns.clients`). */
export interface DnsClientDirectory {
  lookup(address: string): DnsClientIdentity;
}

export type DnsTransport = 'udp' | 'tcp' | 'doh';

/** How a query was answered. */
export type DnsOutcome =
  | 'cached' // from the cache, fresh
  | 'forwarded' // an upstream answered
  | 'stale' // RFC 8767 stale answer, upstreams failing
  | 'blocked' // a list or allow-only policy blocked it
  | 'refused' // ANY, or a policy refusal not from a list
  | 'formerr' // malformed
  | 'servfail' // upstreams failed and nothing stale
  | 'ratelimited'; // dropped by the per-client response rate limit

/** One answered (or dropped) query; observers: the query log and the DNS telemetry. */
export interface DnsQueryRecord {
  /** ms since epoch. */
  readonly at: number;
  readonly client: string;
  readonly deviceId: string | null;
  readonly segment: string | null;
  readonly transport: DnsTransport;
  /** Canonical name ('' if the question could not be read). */
  readonly name: string;
  readonly qtype: number;
  /** RCODE sent (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, 1 FORMERR); -1 when nothing was sent. */
  readonly rcode: number;
  readonly outcome: DnsOutcome;
  /** For 'blocked': `list` and `rule` of the verdict. */
  readonly blockedBy: { readonly list: string; readonly rule: string } | null;
  /** Answer time in microseconds (arrival to send). */
  readonly latencyUs: number;
}

export interface DnsQueryObserver {
  onQuery(record: DnsQueryRecord): void;
}
