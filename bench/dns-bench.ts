/**
 * DNS queries/s with dnsperf against Palisade, dnsmasq and Unbound in the same run (issue 6
 * point 8, target Palisade >= 1.0x dnsmasq), all on 127.0.0.1 with ephemeral ports.
 *
 * One shared upstream: a dnsmasq answering every name under bench.test with 192.0.2.1, TTL 3600
 * (bench/lib/dns-servers.ts). The three resolvers under test forward to it over UDP:
 *  - dnsmasq: --cache-size 10000, the block list as an addn-hosts file of `0.0.0.0 name` lines
 *    (how Pi-hole feeds dnsmasq);
 *  - Unbound: num-threads 1 (the fair single-core comparison: dnsmasq and Palisade's event loop
 *    are one thread; target `unbound2` adds a num-threads 2 run), iterator only, ample caches,
 *    ratelimit off, the block list as `local-zone: "name." always_null` lines;
 *  - Palisade: a gateway in a child process (`--serve DIR`) with only the DNS listener, the block
 *    list as a local hosts-format list answered 'null' (0.0.0.0), the per-client response rate
 *    limit set so high it never binds (dnsmasq and Unbound have no per-client limit by default),
 *    everything else default — the query log included.
 *
 * Loads (dnsperf -q 100, one client, UDP, qtype A):
 *  - cached:  1,000 names under bench.test, each asked once before measuring (warm-up pass);
 *  - blocked: 100,000 names, all on the 100,000-name block list, in shuffled order.
 * Each load runs --rounds times; the order of servers rotates per round and reverses every other
 * round (ABBA over three), so drift on a shared machine falls on all. Reported: median q/s, the
 * spread (min–max), Palisade ÷ dnsmasq and Palisade ÷ Unbound of the medians, and each server's
 * CPU seconds per 100k answered queries (/proc/PID/stat over the measured run).
 *
 *   node bench/dns-bench.ts [--seconds 10] [--rounds 3] [--loads cached,blocked] [--targets palisade,dnsmasq,unbound]
 *   (targets may add unbound2: Unbound with num-threads 2; palisade-nolog: Palisade with dns.queryLog off, a diagnostic)
 *   (internal) node bench/dns-bench.ts --serve DIR --upstream-port P --block-file F
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDnsperf, type DnsperfResult } from './lib/dns-perf.ts';
import { freePort, startDnsmasq, startUnbound, startUpstream, stopProcess, waitReady, type DnsServerProcess } from './lib/dns-servers.ts';
import { cpuSeconds } from './lib/proc.ts';
import { mulberry32 } from './waf/prng.ts';

const SELF = fileURLToPath(import.meta.url);
const RESULTS_DIR = path.join(path.dirname(SELF), 'results');
const CACHED_NAMES = 1000;
const BLOCKED_NAMES = 100_000;
const UPSTREAM_ADDRESS = '192.0.2.1';
const TARGETS = ['palisade', 'dnsmasq', 'unbound', 'unbound2', 'palisade-nolog'] as const;
type Target = (typeof TARGETS)[number];
const LOADS = ['cached', 'blocked'] as const;
type Load = (typeof LOADS)[number];

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    'upstream-port': { type: 'string' },
    'block-file': { type: 'string' },
    'no-query-log': { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    loads: { type: 'string', default: 'cached,blocked' },
    targets: { type: 'string', default: 'palisade,dnsmasq,unbound' },
  },
});

/** The Palisade child: a gateway with only the DNS listener; prints {port} once it listens. */
async function serve(dir: string, upstreamPort: number, blockFile: string, queryLog: boolean): Promise<void> {
  const { loadConfig } = await import('../src/config/load.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { pino } = await import('pino');
  const config = loadConfig({
    overrides: {
      dataDir: dir,
      log: { level: 'silent' },
      hostnames: ['localhost', '127.0.0.1'],
      listeners: {
        mqtt: { enabled: false },
        mqtts: { enabled: false },
        https: { enabled: false },
        coap: { enabled: false },
        coaps: { enabled: false },
        dns: { host: '127.0.0.1', port: 0 },
      },
      mqtt: { sysIntervalSeconds: 0 },
      dns: {
        upstreams: [{ address: '127.0.0.1', port: upstreamPort, protocol: 'udp' }],
        lists: { bench: { source: blockFile, format: 'hosts', kind: 'block', refreshSeconds: 0 } },
        default: { answer: 'null' },
        // dnsmasq and Unbound have no per-client response limit by default: this one never binds.
        abuse: { responsesPerSecond: 1e12, responsesBurst: 1e12 },
        queryLog: { enabled: queryLog },
      },
    },
  });
  const gw = await startGateway(config, pino({ level: 'silent' }));
  const dns = gw.listeners['dns'];
  process.stdout.write(`${JSON.stringify(dns === undefined ? { error: `no dns listener (listeners: ${Object.keys(gw.listeners).join(', ') || 'none'})` } : { port: dns.port })}\n`);
  process.on('SIGTERM', () => {
    void gw.stop().then(() => process.exit(0));
  });
}

/** Deterministic names (mulberry32), so every run asks the same questions. */
const rng = mulberry32;

const SYL = ['ad', 'trk', 'pix', 'metr', 'stat', 'beac', 'cdn', 'srv', 'log', 'tel', 'evt', 'clk', 'imp', 'sync', 'push', 'rtb'];

function makeNames(): { cached: string[]; blocked: string[] } {
  const r = rng(6);
  const pick = (): string => SYL[Math.floor(r() * SYL.length)]!;
  const cached = Array.from({ length: CACHED_NAMES }, (_, i) => `h${i}.${pick()}.bench.test`);
  const blocked = Array.from({ length: BLOCKED_NAMES }, (_, i) => `${pick()}${i.toString(36)}.${pick()}-${Math.floor(r() * 5000)}.blocked.test`);
  return { cached, blocked };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Server {
  target: Target;
  port: number;
  pid: number;
  child: ChildProcess;
  command: string;
  stderr?: () => string;
}

async function startPalisade(target: 'palisade' | 'palisade-nolog', dir: string, upstreamPort: number, blockFile: string): Promise<Server> {
  const data = path.join(dir, target);
  mkdirSync(data);
  const argv = [SELF, '--serve', data, '--upstream-port', String(upstreamPort), '--block-file', blockFile, ...(target === 'palisade-nolog' ? ['--no-query-log'] : [])];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let timer: NodeJS.Timeout | undefined;
  const line = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
    new Promise<string>((resolve) => child.once('exit', (c) => resolve(JSON.stringify({ error: `exited ${c}` })))),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(JSON.stringify({ error: 'no port within 60 s' })), 60_000))),
  ]);
  clearTimeout(timer);
  const msg = JSON.parse(line) as { port?: number; error?: string };
  if (msg.port === undefined) {
    await stopProcess(child);
    throw new Error(`palisade: ${msg.error ?? line}`);
  }
  return { target, port: msg.port, pid: child.pid!, child, command: `node ${argv.map((a) => path.relative(process.cwd(), a) || a).join(' ')}` };
}

function asServer(target: Target, p: DnsServerProcess): Server {
  return { target, port: p.port, pid: p.pid, child: p.child, command: p.command, stderr: () => p.stderr() };
}

interface Trial extends DnsperfResult {
  round: number;
  cpuSecondsPer100k: number;
  /** The shared upstream's CPU seconds during the run: ~0 shows the answers came from the cache. */
  upstreamCpuSeconds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Round r: the targets rotated by ⌊r/2⌋, reversed when r is odd (ABC, CBA, BCA, ACB, …). */
export function roundOrder<T>(targets: readonly T[], r: number): T[] {
  const k = Math.floor(r / 2) % targets.length;
  const rotated = [...targets.slice(k), ...targets.slice(0, k)];
  return r % 2 === 1 ? rotated.reverse() : rotated;
}

const LABEL: Record<Target, string> = { palisade: 'Palisade', 'palisade-nolog': 'Palisade, query log off', dnsmasq: 'dnsmasq', unbound: 'Unbound (1 thread)', unbound2: 'Unbound (2 threads)' };
const fmt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

async function main(): Promise<void> {
  if (args.serve !== undefined) return serve(args.serve, Number(args['upstream-port']), args['block-file']!, !args['no-query-log']);
  const seconds = Number(args.seconds);
  const rounds = Number(args.rounds);
  const loads = args.loads.split(',').map((s) => s.trim()) as Load[];
  const targets = args.targets.split(',').map((s) => s.trim()) as Target[];
  for (const l of loads) if (!LOADS.includes(l)) throw new Error(`unknown load ${l} (${LOADS.join(', ')})`);
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (${TARGETS.join(', ')})`);

  const started = new Date();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-dns-bench-'));
  const { cached, blocked } = makeNames();
  const blockFile = path.join(dir, 'block.hosts');
  writeFileSync(blockFile, `# dns-bench block list: ${blocked.length} names\n${blocked.map((n) => `0.0.0.0 ${n}`).join('\n')}\n`);
  const files: Record<Load, string> = { cached: path.join(dir, 'cached.txt'), blocked: path.join(dir, 'blocked.txt') };
  writeFileSync(files.cached, `${cached.map((n) => `${n} A`).join('\n')}\n`);
  writeFileSync(files.blocked, `${shuffled(blocked, 8).map((n) => `${n} A`).join('\n')}\n`);

  const servers: Server[] = [];
  let upstream: DnsServerProcess | null = null;
  const trials: Record<string, Trial[]> = {};
  const warm: Record<string, DnsperfResult> = {};
  try {
    upstream = startUpstream(await freePort());
    await waitReady(upstream, 'probe.bench.test', UPSTREAM_ADDRESS, null);
    console.log(`upstream: ${upstream.command}`);
    for (const t of targets) {
      let s: Server;
      if (t === 'palisade' || t === 'palisade-nolog') s = await startPalisade(t, dir, upstream.port, blockFile);
      else if (t === 'dnsmasq') s = asServer(t, startDnsmasq(await freePort(), upstream.port, blockFile));
      else s = asServer(t, startUnbound(dir, await freePort(), upstream.port, blocked, t === 'unbound2' ? 2 : 1));
      servers.push(s);
      await waitReady({ name: t, ...s }, 'probe.bench.test', UPSTREAM_ADDRESS, blocked[0]!, 120_000);
      console.log(`${t} on port ${s.port}: ${s.command}`);
    }
    console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
    for (const load of loads) {
      if (load === 'cached') {
        // Warm-up: every name asked once, so the measured run is all cache hits.
        for (const s of servers) warm[s.target] = await runDnsperf({ port: s.port, file: files.cached, maxRuns: 1 });
      }
      for (let r = 0; r < rounds; r++) {
        for (const t of roundOrder(targets, r)) {
          const s = servers.find((x) => x.target === t)!;
          const cpu0 = cpuSeconds(s.pid);
          const up0 = cpuSeconds(upstream.pid);
          const res = await runDnsperf({ port: s.port, file: files[load], seconds });
          const cpu = cpuSeconds(s.pid) - cpu0;
          const upstreamCpuSeconds = Math.round((cpuSeconds(upstream.pid) - up0) * 100) / 100;
          const trial: Trial = { ...res, round: r, cpuSecondsPer100k: res.completed > 0 ? (cpu / res.completed) * 100_000 : Number.NaN, upstreamCpuSeconds };
          (trials[`${load}/${t}`] ??= []).push(trial);
          console.log(`${load} round ${r + 1} ${t}: ${fmt(res.qps)} q/s, completed ${res.completed}, lost ${res.lost}, rcodes ${JSON.stringify(res.rcodes)}, ${trial.cpuSecondsPer100k.toFixed(2)} CPU s/100k, upstream CPU ${upstreamCpuSeconds} s`);
        }
      }
    }
  } finally {
    for (const s of servers) await stopProcess(s.child);
    if (upstream !== null) await stopProcess(upstream.child);
    rmSync(dir, { recursive: true, force: true });
  }

  // Markdown tables.
  const summary: Record<string, Record<string, unknown>> = {};
  const lines: string[] = [];
  for (const load of loads) {
    lines.push('', `### ${load === 'cached' ? `Cached answers (${CACHED_NAMES} names under bench.test, warmed)` : `Blocked answers (${BLOCKED_NAMES.toLocaleString('en-US')}-name block list)`}, ${seconds} s × ${rounds} rounds`, '');
    lines.push('| server | median q/s | spread (min–max) | lost (median) | response codes (median run) | CPU s / 100k queries |', '|---|---:|---:|---:|---|---:|');
    const med: Partial<Record<Target, number>> = {};
    for (const t of targets) {
      const ts = trials[`${load}/${t}`] ?? [];
      const qs = ts.map((x) => x.qps);
      const m = median(qs);
      med[t] = m;
      const mid = [...ts].sort((a, b) => a.qps - b.qps)[Math.floor(ts.length / 2)];
      const rc = mid === undefined ? '' : Object.entries(mid.rcodes).map(([k, v]) => `${k} ${v}`).join(', ');
      lines.push(`| ${LABEL[t]} | ${fmt(m)} | ${fmt(Math.min(...qs))}–${fmt(Math.max(...qs))} | ${median(ts.map((x) => x.lost))} | ${rc} | ${median(ts.map((x) => x.cpuSecondsPer100k)).toFixed(2)} |`);
      summary[`${load}/${t}`] = { medianQps: m, qps: qs, lost: ts.map((x) => x.lost), cpuSecondsPer100k: ts.map((x) => x.cpuSecondsPer100k) };
    }
    const p = med.palisade;
    if (p !== undefined) {
      const others = targets.filter((t) => t !== 'palisade' && t !== 'palisade-nolog');
      lines.push('', others.map((t) => `Palisade ÷ ${t}: ${ratio(p, med[t]!)} (per round ${(trials[`${load}/palisade`] ?? []).map((x, i) => ratio(x.qps, trials[`${load}/${t}`]?.[i]?.qps ?? Number.NaN)).join(' / ')})`).join('; ') + (med.dnsmasq !== undefined ? `; target ≥ 1.00× dnsmasq: ${p / med.dnsmasq >= 1 ? 'met' : 'missed'}` : ''));
    }
  }
  console.log(lines.join('\n'));

  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = path.join(RESULTS_DIR, `dns-bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const versions = { node: process.version, kernel: os.release() };
  writeFileSync(out, `${JSON.stringify({ date: started.toISOString(), command: process.argv.slice(1).map((a) => path.relative(process.cwd(), a) || a).join(' '), seconds, rounds, machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', loadAvgAtEnd: os.loadavg() }, versions, servers: servers.map((s) => ({ target: s.target, command: s.command })), upstream: upstream?.command, warm, trials, summary }, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
}

await main();
