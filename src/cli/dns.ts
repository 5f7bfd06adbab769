/**
 * `palisade dns queries|stats`: the DNS query log from the command line (issue 6, point 4).
 * Reads the store of the data dir; never creates one.
 *
 *   palisade dns queries [--device ID] [--name SUBSTR] [--blocked] [--since 1h] [--limit N] [--json]
 *   palisade dns stats [--since 24h] [--top N] [--json]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DNS_OUTCOMES, type StoredDnsQuery } from '../core/dns/query-log.ts';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import type { Store } from '../core/ports.ts';
import { openSqliteStore } from '../store/sqlite/sqlite-store.ts';
import { addCommonOptions, configFrom, type CommonOptions } from './common.ts';

interface QueriesOptions extends CommonOptions {
  device?: string;
  name?: string;
  blocked?: boolean;
  since?: string;
  limit?: string;
  json?: boolean;
}

interface StatsOptions extends CommonOptions {
  since?: string;
  top?: string;
  json?: boolean;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** RFC 1035 §3.2.2 and later registrations; others print as TYPEnnn (RFC 3597 §5). */
const QTYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR', 43: 'DS', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 255: 'ANY' };

function qtypeName(t: number): string {
  return QTYPES[t] ?? `TYPE${t}`;
}

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** `90s`, `15m`, `1h`, `7d`, `2w` back from now, as epoch ms. */
function sinceOf(value: string | undefined, fallbackMs: number | null): number | undefined {
  if (value === undefined) return fallbackMs === null ? undefined : Date.now() - fallbackMs;
  const m = /^(\d+)([smhdw])$/.exec(value.trim());
  if (!m) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `--since must look like 90s, 15m, 1h, 7d or 2w, got "${value}"`);
  return Date.now() - Number(m[1]) * UNITS[m[2]!]!;
}

async function withQueryLog<T>(opts: CommonOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const path = join(resolve(configFrom(opts).dataDir), 'palisade.db');
  if (!existsSync(path)) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no query log: ${path} does not exist`);
  const store = await openSqliteStore(path);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function formatQuery(q: StoredDnsQuery): string {
  const by = q.blockedBy === null ? '' : `\t${q.blockedBy.list}: ${q.blockedBy.rule}`;
  return `${new Date(q.at).toISOString()}\t${q.client}\t${q.deviceId ?? '-'}\t${q.transport}\t${qtypeName(q.qtype)}\t${q.name}\t${q.outcome}\trcode=${q.rcode}\t${(q.latencyUs / 1000).toFixed(1)}ms${by}`;
}

export function registerDnsCommands(program: Command): void {
  const dns = program.command('dns').description('the DNS firewall: query log and statistics');

  addCommonOptions(dns.command('queries').description('list logged DNS queries, newest first'))
    .option('--device <id>', 'only this device')
    .option('--name <substr>', 'only names containing this (case-insensitive)')
    .option('--blocked', 'only blocked queries')
    .option('--since <duration>', 'only this recent: 90s, 15m, 1h, 7d, 2w')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'one JSON object per line')
    .action(async (opts: QueriesOptions) => {
      const limit = positiveInt('--limit', opts.limit, 50);
      const since = sinceOf(opts.since, null);
      await withQueryLog(opts, async (store) => {
        const rows = await store.dnsQueries.list({ deviceId: opts.device, nameContains: opts.name, outcome: opts.blocked ? 'blocked' : undefined, since, limit });
        for (const q of rows) console.log(opts.json ? JSON.stringify(q) : formatQuery(q));
        if (!opts.json && rows.length === 0) console.log('no matching queries');
      });
    });

  addCommonOptions(dns.command('stats').description('queries per outcome and the most-asked and most-blocked names'))
    .option('--since <duration>', 'period: 90s, 15m, 1h, 7d, 2w', '24h')
    .option('--top <n>', 'names listed per table', '10')
    .option('--json', 'one JSON object')
    .action(async (opts: StatsOptions) => {
      const since = sinceOf(opts.since ?? '24h', null)!;
      const top = positiveInt('--top', opts.top, 10);
      await withQueryLog(opts, async (store) => {
        const byOutcome = await store.dnsQueries.countsByOutcome(since);
        const topNames = await store.dnsQueries.topNames(since, top);
        const topBlocked = await store.dnsQueries.topNames(since, top, 'blocked');
        const total = DNS_OUTCOMES.reduce((a, o) => a + byOutcome[o], 0);
        if (opts.json) {
          console.log(JSON.stringify({ since, total, byOutcome, topNames, topBlocked }));
          return;
        }
        const pct = (n: number): string => (total === 0 ? '0.0' : ((100 * n) / total).toFixed(1));
        console.log(`queries since ${new Date(since).toISOString()}: ${total}`);
        for (const o of DNS_OUTCOMES) if (byOutcome[o] > 0) console.log(`  ${o}\t${byOutcome[o]}\t${pct(byOutcome[o])}%`);
        console.log('most asked:');
        for (const n of topNames) console.log(`  ${n.count}\t${n.name}`);
        console.log('most blocked:');
        for (const n of topBlocked) console.log(`  ${n.count}\t${n.name}`);
      });
    });
}
