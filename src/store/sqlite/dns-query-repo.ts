/**
 * The DNS query log (core/dns/query-log.ts) in SQLite, table `dns_queries` (migration 12).
 * Written only in batches (one transaction per `insertMany`), so the per-row cost is the
 * B-tree inserts into the table and its two indexes, not a commit.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { DNS_OUTCOMES, type DnsNameCount, type DnsQueryFilter, type DnsQueryLogRepo, type StoredDnsQuery } from '../../core/dns/query-log.ts';
import type { DnsOutcome, DnsQueryRecord, DnsTransport } from '../../core/dns/types.ts';
import { attempt, int, intOrNull, text, textOrNull, type Row, type Transaction } from './sql-util.ts';

const COLUMNS = 'id, at, client, device_id, segment, transport, name, qtype, rcode, outcome, blocked_list, blocked_rule, latency_us';

function toRecord(row: Row): StoredDnsQuery {
  const list = textOrNull(row, 'blocked_list');
  return {
    id: int(row, 'id'),
    at: int(row, 'at'),
    client: text(row, 'client'),
    deviceId: textOrNull(row, 'device_id'),
    segment: textOrNull(row, 'segment'),
    transport: text(row, 'transport') as DnsTransport,
    name: text(row, 'name'),
    qtype: int(row, 'qtype'),
    rcode: int(row, 'rcode'),
    outcome: text(row, 'outcome') as DnsOutcome,
    blockedBy: list === null ? null : { list, rule: textOrNull(row, 'blocked_rule') ?? '' },
    latencyUs: int(row, 'latency_us'),
  };
}

export class SqliteDnsQueryRepo implements DnsQueryLogRepo {
  readonly #db: DatabaseSync;
  readonly #tx: Transaction;
  readonly #insert: StatementSync;
  readonly #prune: StatementSync;
  readonly #pruneSome: StatementSync;
  readonly #counts: StatementSync;
  /** One prepared statement per combination of filters used (at most 2^6). */
  readonly #lists = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#db = db;
    this.#tx = tx;
    this.#insert = db.prepare(
      'INSERT INTO dns_queries (at, client, device_id, segment, transport, name, qtype, rcode, outcome, blocked_list, blocked_rule, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#prune = db.prepare('DELETE FROM dns_queries WHERE at < ?');
    // The oldest rows by time through the `at` index; id is the rowid, so this deletes by key.
    this.#pruneSome = db.prepare('DELETE FROM dns_queries WHERE id IN (SELECT id FROM dns_queries WHERE at < ? ORDER BY at LIMIT ?)');
    this.#counts = db.prepare('SELECT outcome, COUNT(*) AS n FROM dns_queries WHERE at >= ? GROUP BY outcome');
  }

  insertMany(records: readonly DnsQueryRecord[]): Promise<void> {
    return attempt('dnsQueries.insertMany', () => {
      if (records.length === 0) return;
      const insert = this.#insert;
      this.#tx(() => {
        for (const r of records) {
          insert.run(Math.floor(r.at), r.client, r.deviceId, r.segment, r.transport, r.name, r.qtype, r.rcode, r.outcome, r.blockedBy?.list ?? null, r.blockedBy?.rule ?? null, Math.round(r.latencyUs));
        }
      });
    });
  }

  list(f: DnsQueryFilter): Promise<StoredDnsQuery[]> {
    return attempt('dnsQueries.list', () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      let key = '';
      const add = (flag: string, clause: string, value: string | number): void => {
        key += flag;
        where.push(clause);
        args.push(value);
      };
      if (f.deviceId !== undefined) add('d', 'device_id = ?', f.deviceId);
      if (f.name !== undefined) add('n', 'name = ?', f.name);
      if (f.nameContains !== undefined && f.nameContains !== '') add('c', 'instr(name, ?) > 0', f.nameContains.toLowerCase());
      if (f.outcome !== undefined) add('o', 'outcome = ?', f.outcome);
      if (f.since !== undefined) add('s', 'at >= ?', f.since);
      if (f.beforeId !== undefined) add('b', 'id < ?', f.beforeId);
      let stmt = this.#lists.get(key);
      if (stmt === undefined) {
        const cond = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
        stmt = this.#db.prepare(`SELECT ${COLUMNS} FROM dns_queries ${cond} ORDER BY id DESC LIMIT ?`);
        this.#lists.set(key, stmt);
      }
      return stmt.all(...args, Math.max(0, Math.floor(f.limit))).map(toRecord);
    });
  }

  pruneBefore(before: number, limit?: number): Promise<number> {
    return attempt('dnsQueries.pruneBefore', () => Number((limit === undefined ? this.#prune.run(before) : this.#pruneSome.run(before, limit)).changes));
  }

  countsByOutcome(since: number): Promise<Record<DnsOutcome, number>> {
    return attempt('dnsQueries.countsByOutcome', () => {
      const out = Object.fromEntries(DNS_OUTCOMES.map((o) => [o, 0])) as Record<DnsOutcome, number>;
      for (const row of this.#counts.all(since)) out[text(row, 'outcome') as DnsOutcome] = int(row, 'n');
      return out;
    });
  }

  topNames(since: number, limit: number, outcome?: DnsOutcome): Promise<DnsNameCount[]> {
    return attempt('dnsQueries.topNames', () => {
      const cond = outcome === undefined ? '' : 'AND outcome = ?';
      const stmt = this.#db.prepare(`SELECT name, COUNT(*) AS n FROM dns_queries WHERE at >= ? ${cond} GROUP BY name ORDER BY n DESC, name LIMIT ?`);
      const rows = outcome === undefined ? stmt.all(since, limit) : stmt.all(since, outcome, limit);
      return rows.map((r) => ({ name: text(r, 'name'), count: intOrNull(r, 'n') ?? 0 }));
    });
  }
}
