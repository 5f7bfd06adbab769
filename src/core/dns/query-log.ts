/**
 * The DNS query log's store port (issue 6, point 4). The DNS engine hands every answered (or
 * dropped) query to its observers as a `DnsQueryRecord` (types.ts); the query-log writer
 * (src/protocols/dns/query-log-writer.ts) batches them into `insertMany`, and prunes rows older
 * than `dns.queryLog.retentionDays`. Operators read it with `palisade dns queries|stats`.
 */
import type { DnsOutcome, DnsQueryRecord } from './types.ts';

export const DNS_OUTCOMES: readonly DnsOutcome[] = ['cached', 'forwarded', 'stale', 'blocked', 'refused', 'formerr', 'servfail', 'ratelimited'];

/** A logged query; `id` grows with insertion order. */
export interface StoredDnsQuery extends DnsQueryRecord {
  readonly id: number;
}

export interface DnsQueryFilter {
  deviceId?: string | undefined;
  /** Exact canonical name. */
  name?: string | undefined;
  /** Case-insensitive substring of the name (a scan over the time range, not an index seek). */
  nameContains?: string | undefined;
  outcome?: DnsOutcome | undefined;
  /** Only queries at or after this time (epoch ms). */
  since?: number | undefined;
  /** Only queries with an id below this one: the next page after the last row of the previous one. */
  beforeId?: number | undefined;
  /** Rows at most (newest first). */
  limit: number;
}

export interface DnsNameCount {
  name: string;
  count: number;
}

export interface DnsQueryLogRepo {
  /** All in one transaction; an empty batch writes nothing. */
  insertMany(records: readonly DnsQueryRecord[]): Promise<void>;
  /** Newest first (by id). */
  list(filter: DnsQueryFilter): Promise<StoredDnsQuery[]>;
  /**
   * Deletes queries logged before `before` (epoch ms); returns how many went. With `limit`, at
   * most that many (the oldest), so a large prune can be done in slices that never hold the
   * write lock long.
   */
  pruneBefore(before: number, limit?: number): Promise<number>;
  /** Queries per outcome since `since` (every outcome present, zero when none). */
  countsByOutcome(since: number): Promise<Record<DnsOutcome, number>>;
  /** The most-asked names since `since` (optionally of one outcome), most first. */
  topNames(since: number, limit: number, outcome?: DnsOutcome): Promise<DnsNameCount[]>;
}
