/**
 * `palisade dns queries|stats` (issue 6, point 4) against a real SQLite store: filters, JSON
 * output, stats, argument errors, a missing store, and one run of the real `palisade` binary.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerDnsCommands } from '../../src/cli/dns.ts';
import type { StoredDnsQuery } from '../../src/core/dns/query-log.ts';
import type { DnsQueryRecord } from '../../src/core/dns/types.ts';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import { DnsQueryLogWriter } from '../../src/protocols/dns/query-log-writer.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'palisade-dns-cli-'));
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const NOW = Date.now();

function q(i: number, over: Partial<DnsQueryRecord>): DnsQueryRecord {
  return { at: NOW - 60_000 + i, client: '192.0.2.10', deviceId: 'cam-1', segment: 'cameras', transport: 'udp', name: 'time.example.com', qtype: 1, rcode: 0, outcome: 'cached', blockedBy: null, latencyUs: 1500, ...over };
}

/** Written through the real writer, as the gateway does. */
beforeAll(async () => {
  const store = await openSqliteStore(join(data, 'palisade.db'));
  const w = new DnsQueryLogWriter({ repo: store.dnsQueries, retentionDays: 7 });
  w.onQuery(q(7, { at: NOW - 3 * 86_400_000, name: 'old.example.com', qtype: 99 }));
  for (let i = 0; i < 5; i++) w.onQuery(q(i, {}));
  w.onQuery(q(5, { deviceId: 'cam-2', name: 'c2.evil.test', rcode: 3, outcome: 'blocked', blockedBy: { list: 'palisade-iot-threats', rule: '||evil.test^' } }));
  w.onQuery(q(6, { deviceId: null, client: '2001:db8::9', name: 'printer.local.example', qtype: 28, outcome: 'forwarded' }));
  await w.close();
  await store.close();
});

async function palisade(...args: string[]): Promise<{ out: string[]; error: PalisadeError | null }> {
  const program = new Command().name('palisade').exitOverride();
  registerDnsCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', 'dns', ...args]);
    return { out, error: null };
  } catch (err) {
    if (err instanceof PalisadeError) return { out, error: err };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

describe('palisade dns', () => {
  it('queries: newest first, filtered by device, name substring, blocked, time and limit', async () => {
    const all = await palisade('queries', '--data-dir', data, '--json');
    const rows = all.out.map((l) => JSON.parse(l) as StoredDnsQuery);
    expect(rows.map((r) => r.name)).toEqual(['printer.local.example', 'c2.evil.test', ...Array<string>(5).fill('time.example.com'), 'old.example.com']);
    expect(rows[0]).toMatchObject({ deviceId: null, client: '2001:db8::9', qtype: 28, outcome: 'forwarded', blockedBy: null });
    const dev = await palisade('queries', '--data-dir', data, '--device', 'cam-2', '--json');
    expect(dev.out.map((l) => (JSON.parse(l) as StoredDnsQuery).name)).toEqual(['c2.evil.test']);
    const blocked = await palisade('queries', '--data-dir', data, '--blocked');
    expect(blocked.out).toHaveLength(1);
    expect(blocked.out[0]).toMatch(/\tcam-2\tudp\tA\tc2\.evil\.test\tblocked\trcode=3\t1\.5ms\tpalisade-iot-threats: \|\|evil\.test\^$/);
    const named = await palisade('queries', '--data-dir', data, '--name', 'EXAMPLE.COM', '--since', '1h', '--limit', '2');
    expect(named.out).toHaveLength(2);
    expect(named.out.every((l) => l.includes('time.example.com'))).toBe(true);
    const types = await palisade('queries', '--data-dir', data, '--name', 'old');
    expect(types.out[0]).toContain('\tTYPE99\t');
    expect((await palisade('queries', '--data-dir', data, '--device', 'nobody')).out).toEqual(['no matching queries']);
  });

  it('stats: counts per outcome and the top names over the period', async () => {
    const { out } = await palisade('stats', '--data-dir', data, '--json');
    const s = JSON.parse(out[0]!) as { total: number; byOutcome: Record<string, number>; topNames: { name: string; count: number }[]; topBlocked: { name: string; count: number }[] };
    expect(s.total).toBe(7); // the 3-day-old query is outside the default 24 h
    expect(s.byOutcome).toMatchObject({ cached: 5, blocked: 1, forwarded: 1, servfail: 0 });
    expect(s.topNames[0]).toEqual({ name: 'time.example.com', count: 5 });
    expect(s.topBlocked).toEqual([{ name: 'c2.evil.test', count: 1 }]);
    const text = await palisade('stats', '--data-dir', data, '--since', '7d', '--top', '1');
    expect(text.out[0]).toMatch(/: 8$/);
    expect(text.out).toContain('  cached\t6\t75.0%');
    expect(text.out).toContain('  5\ttime.example.com');
  });

  it('refuses bad arguments and a data dir without a store, creating nothing', async () => {
    expect((await palisade('queries', '--data-dir', data, '--limit', '0')).error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await palisade('queries', '--data-dir', data, '--since', 'yesterday')).error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await palisade('stats', '--data-dir', data, '--top', 'x')).error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    const missing = await palisade('stats', '--data-dir', join(dir, 'none'));
    expect(missing.error?.code).toBe(ErrorCodes.NOT_FOUND);
  });

  it('the real binary: `palisade dns queries --blocked` prints one line and exits 0', async () => {
    const { stdout } = await run(process.execPath, ['src/cli/main.ts', 'dns', 'queries', '--blocked', '--data-dir', data], { cwd: join(import.meta.dirname, '../..') });
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toContain('c2.evil.test');
  });
});
