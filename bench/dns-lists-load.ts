/**
 * DNS list loading benchmark (issue 6 point 2): one million domains must load in under 3 s and
 * under 200 MB. Generates a realistic 1M-line hosts file (`0.0.0.0 name`, comments and a few
 * multi-name lines, like StevenBlack's and OISD's) and a 1M-line adblock file (`||name^`, some
 * `$important`, `@@` exceptions and cosmetic rules) in a temp dir, loads each through the real
 * loader (ListSources: file stream → ListBuilder) in a fresh child process with --expose-gc,
 * and reports wall time, heap and RSS growth after gc, then filter lookups/s over a realistic
 * policy (the 1M list + the bundled threat list + a small allow list) for hits, subdomain hits
 * and misses.
 *
 * Usage: node bench/dns-lists-load.ts [lines=1000000]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledList } from '../src/core/dns/lists/builder.ts';
import { compileList } from '../src/core/dns/lists/builder.ts';
import { createDnsFilter } from '../src/core/dns/filter.ts';
import { ListSources, withBundledThreatList } from '../src/protocols/dns/list-sources.ts';

const TARGET_MS = 3000;
const TARGET_MB = 200;

/** Deterministic PRNG (mulberry32) so every run loads the same names. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ad', 'track', 'metric', 'cdn', 'pixel', 'stat', 'log', 'beacon', 'api', 'sync', 'tag', 'img', 'media', 'click', 'serv', 'data', 'go', 'link', 'net', 'hub', 'zen', 'ora', 'lux', 'vex', 'qu', 'mi', 'ro', 'ka'];
const TLDS = ['com', 'com', 'com', 'net', 'org', 'io', 'ru', 'cn', 'info', 'xyz', 'top', 'de', 'co.uk', 'com.br', 'online'];

function label(r: () => number): string {
  const parts = 1 + Math.floor(r() * 3);
  let s = '';
  for (let i = 0; i < parts; i++) s += SYLLABLES[Math.floor(r() * SYLLABLES.length)] ?? 'x';
  if (r() < 0.4) s += String(Math.floor(r() * 1000));
  if (r() < 0.15) s += '-' + (SYLLABLES[Math.floor(r() * SYLLABLES.length)] ?? 'y');
  return s;
}

/** Names like StevenBlack/OISD entries: 1–3 labels under a registrable domain, ~24 chars. */
function names(count: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  const seen = new Set<string>();
  while (out.length < count) {
    const depth = r() < 0.45 ? 0 : r() < 0.8 ? 1 : 2;
    let n = `${label(r)}.${TLDS[Math.floor(r() * TLDS.length)] ?? 'com'}`;
    for (let i = 0; i < depth; i++) n = `${label(r)}.${n}`;
    if (seen.has(n)) continue;
    seen.add(n);
    out.push(n);
  }
  return out;
}

function hostsText(list: string[]): string {
  const lines: string[] = ['# Title: generated hosts list', '127.0.0.1 localhost', '::1 localhost', ''];
  for (let i = 0; i < list.length; i++) {
    if (i % 5000 === 0) lines.push(`# section ${i}`);
    lines.push(`0.0.0.0 ${list[i] ?? ''}`);
  }
  return lines.join('\n') + '\n';
}

function adblockText(list: string[]): string {
  const lines: string[] = ['[Adblock Plus 2.0]', '! Title: generated adblock list', ''];
  for (let i = 0; i < list.length; i++) {
    const n = list[i] ?? '';
    if (i % 1000 === 0) lines.push(`example${i}.com##.banner`);
    if (i % 500 === 0) lines.push(`@@||ok.${n}^`);
    lines.push(i % 10 === 0 ? `||${n}^$important` : `||${n}^`);
  }
  return lines.join('\n') + '\n';
}

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/** Child: load one file through ListSources, measure, then time lookups. */
async function measure(format: 'hosts' | 'adblock', file: string, count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  const before = process.memoryUsage();
  const lists = withBundledThreatList({ big: { source: file, format, kind: 'block', refreshSeconds: 0 } }, true);
  const loaded: Record<string, CompiledList> = {};
  const sources = new ListSources({ lists, onList: (name, list) => { loaded[name] = list; } });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sources.start();
  const loadMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  gc();
  const after = process.memoryUsage();
  const big = loaded.big;
  if (big === undefined) throw new Error(`list not loaded: ${JSON.stringify(sources.status())}`);

  const filter = createDnsFilter({
    default: { mode: 'filter', block: null, allow: ['allowed'], answer: 'nxdomain' },
    segments: {},
    lists: { big: { kind: 'block' }, 'palisade-iot-threats': { kind: 'block' }, allowed: { kind: 'allow' } },
  }, { ...loaded, allowed: compileList('*.vendor-cloud.example\nntp.org\n', { kind: 'allow', format: 'auto' }) });
  const source = names(count, 7);
  const r = rng(99);
  const queries: { hits: string[]; sub: string[]; miss: string[] } = { hits: [], sub: [], miss: [] };
  for (let i = 0; i < 100_000; i++) {
    const n = source[Math.floor(r() * source.length)] ?? '';
    queries.hits.push(n);
    queries.sub.push(`w${i % 100}.${n}`);
    queries.miss.push(`host${i % 97}.miss${i}.example.net`);
  }
  const rates: Record<string, number> = {};
  let blocked = 0;
  for (const [kind, qs] of Object.entries(queries)) {
    for (const q of qs) filter.check(null, q); // warm up
    const rounds = 5;
    const t = process.hrtime.bigint();
    for (let k = 0; k < rounds; k++) for (const q of qs) if (filter.check(null, q).blocked) blocked++;
    const ns = Number(process.hrtime.bigint() - t);
    rates[kind] = Math.round((qs.length * rounds) / (ns / 1e9));
  }
  process.stdout.write(JSON.stringify({
    format, loadMs: Math.round(loadMs), loadCpuMs: Math.round((cpu.user + cpu.system) / 1000), rules: big.stats.blockRules, allowRules: big.stats.allowRules, badLines: big.stats.badLines,
    heapMB: mb(after.heapUsed - before.heapUsed), arrayBuffersMB: mb(after.arrayBuffers - before.arrayBuffers), rssMB: mb(after.rss - before.rss), rssTotalMB: mb(after.rss), lookupsPerSecond: rates, blocked,
  }) + '\n');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--measure') {
    await measure(process.argv[3] === 'adblock' ? 'adblock' : 'hosts', process.argv[4] ?? '', Number(process.argv[5]));
    return;
  }
  const count = Number(process.argv[2] ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'palisade-dns-lists-'));
  try {
    const list = names(count, 7);
    const hosts = join(dir, 'hosts.txt');
    const adblock = join(dir, 'adblock.txt');
    writeFileSync(hosts, hostsText(list));
    writeFileSync(adblock, adblockText(list));
    const self = fileURLToPath(import.meta.url);
    const { loadavg, cpus } = await import('node:os');
    console.log(`${count} names; ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (wall times stretch with load; loadCpuMs is the CPU the load took)`);
    let ok = true;
    for (const [format, file] of [['hosts', hosts], ['adblock', adblock]] as const) {
      const child = spawnSync(process.execPath, ['--expose-gc', self, '--measure', format, file, String(count)], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim()) as { loadMs: number; heapMB: number; rssMB: number };
      const pass = result.loadMs < TARGET_MS && result.heapMB + result.rssMB < TARGET_MB;
      ok &&= pass;
      console.log(`${format.padEnd(8)} ${JSON.stringify(result)} ${pass ? 'PASS' : 'FAIL'} (target < ${TARGET_MS} ms, heap+rss growth < ${TARGET_MB} MB)`);
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
