/**
 * What the identity and policy path costs the broker (issue 3, point 10): one gateway, two modes,
 * interleaved in one run.
 *
 *   ON   devices authenticate with their own password (`device.id` = username = client id) and
 *        every PUBLISH is decided by ZeroTrustPolicyEngine over a realistic set of stored policies:
 *        41 policies, 300+ statements attached to the segment (topic grants with `${device.id}`
 *        and `${device.attr.*}` variables, denies with MQTT wildcards, sourceCidr conditions,
 *        HTTP/queue/shadow/firmware grants) plus a device policy for the sink.
 *   OFF  the same gateway code with the same config otherwise, but anonymous clients (listener
 *        `anonymous` segment) and a policy engine whose compiled policies allow everything. The
 *        allow-all engine exists only inside this benchmark's server process (a patch of
 *        ZeroTrustPolicyEngine.prototype.compile applied before startGateway); no production
 *        config can select it.
 *
 * The loads are those of bench/scenarios/fanin.ts (10 publishers -> 1 wildcard subscriber, 32-byte
 * payloads, QoS 0 batches of 100, QoS 1 windows of 64, end-to-end window 1,000), driven by the
 * same generator (bench/lib/throughput.ts), with shorter windows (1 s warm-up, 2.5 s measured) so
 * that many pairs fit. One ON and one OFF server run side by side for each load; each round is a
 * pair of trials, back to back, in ABBA order (ON,OFF then OFF,ON) so a drift in machine load does
 * not favour one mode. The figure is the median over rounds of the paired ratio ON ÷ OFF, with its
 * spread, for all pairs and for the pairs during which other processes stayed under half a core.
 *
 * `--subject shield` measures the shield (issue 5, point 8) the same way: both modes authenticate
 * and decide policy; ON runs rate limits (buckets that never bind), the WAF blocking at paranoia 1
 * and anomaly detection as shipped, OFF turns those three off in the config.
 *
 *   node bench/pipeline-onoff.ts [--subject policy|shield] [--rounds 20] [--loads qos0,qos1] [--quick] [--quiet-wait MS] [--keep]
 *   (internal) node bench/pipeline-onoff.ts --serve on|off --config FILE --data-dir DIR
 *
 * Writes bench/results/pipeline-onoff-<date>.json and prints a Markdown table.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import type { QoS } from 'mqtt-packet';
import { killAll, spawnBroker, waitForPort, type BrokerProcess } from './lib/brokers/process.ts';
import { sleep } from './lib/clock.ts';
import { machineCpuSeconds } from './lib/proc.ts';
import { median, round } from './lib/stats.ts';
import { runThroughput, type ThroughputSpec } from './lib/throughput.ts';
import type { ScenarioResult } from './lib/scenario.ts';
import type { Endpoint } from './lib/client.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const PUBLISHERS = 10;
const SEGMENT = 'bench';
const SINK = 'sink-0';
/** A pair is "shared" when, during either of its trials, other processes used more than this (cores). */
const SHARED_CPU = 0.5;

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    rounds: { type: 'string' },
    loads: { type: 'string' },
    quick: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    /** Longest wait before a trial for the machine to go quiet (other processes < 0.5 core). */
    'quiet-wait': { type: 'string' },
    /** policy (issue 3: identity + policy on vs allow-all) or shield (issue 5: rate limits, WAF, anomaly on vs off). */
    subject: { type: 'string', default: 'policy' },
  },
});
const SUBJECT = args.subject === 'shield' ? 'shield' : 'policy';

type Mode = 'on' | 'off';

// -------------------------------------------------------------------------------------------------
// Server process
// -------------------------------------------------------------------------------------------------

async function serve(mode: Mode, configFile: string, dataDir: string): Promise<void> {
  const { pino } = await import('pino');
  const { loadConfig } = await import('../src/config/load.ts');
  const { startGateway } = await import('../src/gateway.ts');
  if (mode === 'off' && SUBJECT === 'policy') {
    const { ZeroTrustPolicyEngine } = await import('../src/core/policy/engine.ts');
    const allow = Object.freeze({ allowed: true, rule: 'bench-off#allow-all' });
    const allowAll = Object.freeze({ authorize: () => allow });
    // The engine still loads and validates the stored policies at start; only decisions are skipped.
    ZeroTrustPolicyEngine.prototype.compile = function compileAllowAll() {
      return allowAll;
    } as unknown as typeof ZeroTrustPolicyEngine.prototype.compile;
  }
  const config = loadConfig({ file: configFile, env: {}, overrides: { dataDir } });
  const gateway = await startGateway(config, pino({ level: 'warn' }));
  const stop = (): void => {
    gateway.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The shield's settings per subject and mode: measured on vs off, or non-binding (as for the peers). */
function shieldYaml(mode: Mode): string {
  const base = 'maxConnectionsPerAddress: 20000, maxConnections: 50000, connectionRate: { perAddressPerSecond: 1000000, perAddressBurst: 1000000, globalPerSecond: 1000000, globalBurst: 1000000 }';
  // Buckets that never bind: the cost of counting every message is measured, not the throttling.
  const unbound = 'rateLimit: { device: { messagesPerSecond: 1.0e12, messagesBurst: 1.0e12, bytesPerSecond: 1.0e15, bytesBurst: 1.0e15 } }';
  if (SUBJECT === 'shield' && mode === 'off') return `{ ${base}, rateLimit: { enabled: false }, waf: { mode: off, http: { mode: off } }, anomaly: { enabled: false } }`;
  // shield ON: rate limits (unbound), WAF blocking at paranoia 1, anomaly detection, as shipped.
  return `{ ${base}, ${unbound} }`;
}

function configYaml(mode: Mode): string {
  // As bench/lib/brokers/palisade.ts, minus the listeners this measurement does not use.
  const mqtt = mode === 'on' || SUBJECT === 'shield' ? '{ port: 0 }' : `{ port: 0, anonymous: { segment: ${SEGMENT} } }`;
  return `log: { level: warn }
listeners:
  mqtt: ${mqtt}
  mqtts: { enabled: false }
  https: { enabled: false }
  coap: { enabled: false }
  coaps: { enabled: false }
shield: ${shieldYaml(mode)}
mqtt: { maxInflight: 64, receiveMaximum: 64, maxQueuedMessages: 10000, sysIntervalSeconds: 0 }
`;
}

// -------------------------------------------------------------------------------------------------
// Fleet and policies (ON mode's data; OFF runs on the same data dir and ignores it)
// -------------------------------------------------------------------------------------------------

interface DeviceLogin {
  id: string;
  password: string;
}

/** 40 segment policies like a real multi-site fleet's, 8 statements each. */
function segmentPolicies(): Array<{ name: string; version: string; statements: unknown[] }> {
  const out = [];
  for (let i = 0; i < 40; i++) {
    out.push({
      name: `site-${i}`,
      version: '2026-11',
      statements: [
        { sid: 'telemetry', effect: 'allow', actions: ['mqtt:publish'], resources: [`site-${i}/\${device.attr.site}/\${device.id}/telemetry/#`, `metrics/${i}/+/\${device.id}`] },
        { sid: 'commands', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: [`cmd/${i}/\${device.id}/#`, `cmd/${i}/all/+`] },
        { sid: 'no-secrets', effect: 'deny', actions: ['mqtt:*'], resources: [`secret/${i}/#`, `site-${i}/+/admin/#`] },
        { sid: 'no-bench-admin', effect: 'deny', actions: ['mqtt:publish'], resources: [`bench/+/admin/${i}/#`] },
        { sid: 'api', effect: 'allow', actions: ['http:get', 'http:post'], resources: [`/api/v1/devices/\${device.id}/*`, '/api/v1/ota/**'], conditions: { sourceCidr: ['10.0.0.0/8', 'fd00::/8'] } },
        { sid: 'queue', effect: 'allow', actions: ['queue:pull', 'queue:ack'], resources: [`jobs-${i}-*`] },
        { sid: 'shadow', effect: 'allow', actions: ['shadow:*'], resources: [`\${device.id}/site-${i}/*`] },
        { sid: 'firmware', effect: 'allow', actions: ['firmware:download'], resources: [`fw/site-${i}/**`], conditions: { firmwareCurrent: false } },
      ],
    });
  }
  return out;
}

/** What the load needs: each publisher its own topic, the sink the wildcard over them. */
const TRAFFIC_POLICY = {
  name: 'bench-traffic',
  version: '2026-11',
  statements: [
    { sid: 'own-topic', effect: 'allow', actions: ['mqtt:publish'], resources: ['bench/${device.id}/t'] },
    { sid: 'no-control', effect: 'deny', actions: ['mqtt:publish', 'mqtt:subscribe'], resources: ['bench/+/t/control/#'] },
  ],
};
const SINK_POLICY = {
  name: 'bench-sink',
  version: '2026-11',
  statements: [{ sid: 'read-all', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: ['bench/+/t'] }],
};

async function prepareData(dataDir: string): Promise<{ logins: DeviceLogin[]; statements: number; policies: number }> {
  const { openSqliteStore } = await import('../src/store/sqlite/sqlite-store.ts');
  const { generatePassword, hashPassword } = await import('../src/core/identity/password.ts');
  const { parsePolicyDocument } = await import('../src/core/policy/document.ts');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = await openSqliteStore(path.join(dataDir, 'palisade.db'));
  try {
    const logins: DeviceLogin[] = [];
    const ids = [...Array.from({ length: PUBLISHERS }, (_, i) => `pub-${i}`), SINK];
    for (const [i, id] of ids.entries()) {
      const password = generatePassword();
      await store.devices.create({ id, segment: SEGMENT, status: 'active', attrs: { site: `site-${i % 7}` }, passwordHash: await hashPassword(password), createdAt: Date.now() });
      logins.push({ id, password });
    }
    const docs = [...segmentPolicies(), TRAFFIC_POLICY, SINK_POLICY].map((d) => parsePolicyDocument(d));
    for (const d of docs) await store.policies.put(d);
    for (const d of docs) if (d.name !== SINK_POLICY.name) await store.policies.attach({ kind: 'segment', id: SEGMENT }, d.name);
    await store.policies.attach({ kind: 'device', id: SINK }, SINK_POLICY.name);
    return { logins, statements: docs.reduce((a, d) => a + d.statements.length, 0), policies: docs.length };
  } finally {
    await store.close();
  }
}

// -------------------------------------------------------------------------------------------------
// Runner
// -------------------------------------------------------------------------------------------------

function log(msg: string): void {
  console.log(`[pipeline ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** Waits (at most `maxMs`) until processes other than ours use under half a core; returns what was seen. */
async function waitForQuiet(maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const [b0] = machineCpuSeconds();
    await sleep(300);
    const busy = (machineCpuSeconds()[0] - b0) / 0.3;
    if (busy < 0.5 || Date.now() >= deadline) return round(busy, 2);
  }
}

async function startServer(mode: Mode, workDir: string, dataDir: string): Promise<{ proc: BrokerProcess; endpoint: Endpoint }> {
  const configFile = path.join(workDir, `palisade-${mode}.yaml`);
  writeFileSync(configFile, configYaml(mode));
  const portsFile = path.join(dataDir, 'ports.json');
  rmSync(portsFile, { force: true });
  const proc = spawnBroker(process.execPath, [SELF, '--serve', mode, '--subject', SUBJECT, '--config', configFile, '--data-dir', dataDir], { cwd: REPO_ROOT });
  try {
    const deadline = Date.now() + 30_000;
    let port: number | null = null;
    while (port === null) {
      if (proc.exited()) throw new Error(`server (${mode}) exited: ${proc.output().slice(-800)}`);
      if (Date.now() > deadline) throw new Error(`server (${mode}) wrote no ports.json in 30 s: ${proc.output().slice(-800)}`);
      if (existsSync(portsFile)) {
        try {
          port = (JSON.parse(readFileSync(portsFile, 'utf8')) as { mqtt?: { port: number } }).mqtt?.port ?? null;
        } catch { /* partially written */ }
      }
      if (port === null) await sleep(50);
    }
    await waitForPort('127.0.0.1', port, 10_000, proc);
    return { proc, endpoint: { host: '127.0.0.1', port } };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

function spec(qos: QoS, mode: Mode, logins: DeviceLogin[], quick: boolean): ThroughputSpec {
  const cred = (id: string): { username?: string; password?: string } => {
    if (mode === 'off' && SUBJECT === 'policy') return {};
    const l = logins.find((x) => x.id === id);
    if (!l) throw new Error(`no login for ${id}`);
    return { username: l.id, password: l.password };
  };
  return {
    qos,
    publishers: Array.from({ length: PUBLISHERS }, (_, i) => ({ clientId: `pub-${i}`, topic: `bench/pub-${i}/t`, ...cred(`pub-${i}`) })),
    subscribers: [{ clientId: SINK, filter: 'bench/+/t', ...cred(SINK) }],
    pubWorkers: 2,
    subWorkers: 1,
    fanout: 1,
    payloadSize: 32,
    batch: 100,
    window: 64,
    e2eWindow: 1000,
    warmupMs: quick ? 500 : 1000,
    windowMs: quick ? 1500 : 2500,
    maxMessagesPerPublisher: 50_000_000,
  };
}

interface Trial {
  round: number;
  load: string;
  mode: Mode;
  rate: number;
  cpuUsPerMsg: number;
  details: ScenarioResult['details'];
}

/** Linear-interpolated quantile (q in 0..1). */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

function spread(xs: number[]): { median: number; p25: number; p75: number; min: number; max: number } {
  return { median: median(xs), p25: quantile(xs, 0.25), p75: quantile(xs, 0.75), min: Math.min(...xs), max: Math.max(...xs) };
}

async function main(): Promise<void> {
  const quick = args.quick === true;
  const rounds = Number(args.rounds ?? (quick ? 4 : 20));
  const quietWaitMs = Number(args['quiet-wait'] ?? (quick ? 2_000 : 5_000));
  const loads = (args.loads ?? 'qos0,qos1').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const l of loads) if (l !== 'qos0' && l !== 'qos1') throw new Error(`unknown load ${l} (qos0, qos1)`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'palisade-pipeline-'));
  const cleanup = (): void => {
    killAll();
    if (args.keep !== true) rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  const started = Date.now();
  // Each mode its own data dir with the same fleet and policies (OFF loads them and bypasses them).
  const dirs: Record<Mode, string> = { on: path.join(workDir, 'data-on'), off: path.join(workDir, 'data-off') };
  const fleet = await prepareData(dirs.on);
  // Each dir has its own generated passwords (OFF uses them under --subject shield).
  const logins: Record<Mode, DeviceLogin[]> = { on: fleet.logins, off: (await prepareData(dirs.off)).logins };
  log(`work dir ${workDir}; ${fleet.logins.length} devices, ${fleet.policies} policies, ${fleet.statements} statements; ${rounds} rounds of ${loads.join(', ')}`);

  const trials: Trial[] = [];
  for (const load of loads) {
    const qos: QoS = load === 'qos0' ? 0 : 1;
    // Both servers stay up for the whole load (the idle one costs next to nothing), so ON and OFF
    // trials can alternate every few seconds: on a shared machine, fine interleaving is what makes
    // a pair's two trials see the same background load.
    const servers = { on: await startServer('on', workDir, dirs.on), off: await startServer('off', workDir, dirs.off) };
    try {
      for (let r = 0; r < rounds; r++) {
        // ABBA: a linear drift in machine load costs both modes the same.
        const order: Mode[] = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
        const busyBefore = await waitForQuiet(quietWaitMs);
        for (const mode of order) {
          const { proc, endpoint } = servers[mode];
          const res = await runThroughput(endpoint, proc.pid, spec(qos, mode, logins[mode], quick));
          const t: Trial = { round: r + 1, load, mode, rate: res.metrics['rate']!, cpuUsPerMsg: res.metrics['cpuUsPerMsg']!, details: { ...res.details, busyCoresBefore: busyBefore } };
          trials.push(t);
          log(`round ${r + 1} ${load} ${mode.toUpperCase().padEnd(3)} ${Math.round(t.rate).toLocaleString('en-US').padStart(9)} msg/s  ${t.cpuUsPerMsg} µs/msg  broker ${String(t.details['brokerCpuCores'])} cores, other ${String(t.details['otherCpuCores'])}, loss ${String(t.details['lossPct'])} %`);
        }
      }
    } finally {
      await Promise.all([servers.on.proc.stop(), servers.off.proc.stop()]);
    }
  }

  const summary = loads.map((load) => {
    const on = trials.filter((t) => t.load === load && t.mode === 'on');
    const off = trials.filter((t) => t.load === load && t.mode === 'off');
    const other = (t: Trial): number => Number(t.details['otherCpuCores'] ?? 0);
    const paired = on.map((t) => {
      const o = off.find((x) => x.round === t.round)!;
      return { round: t.round, rateRatio: t.rate / o.rate, cpuRatio: t.cpuUsPerMsg / o.cpuUsPerMsg, shared: other(t) > SHARED_CPU || other(o) > SHARED_CPU };
    });
    const quiet = paired.filter((p) => !p.shared);
    return {
      load,
      on: { rate: spread(on.map((t) => t.rate)), cpuUsPerMsg: spread(on.map((t) => t.cpuUsPerMsg)) },
      off: { rate: spread(off.map((t) => t.rate)), cpuUsPerMsg: spread(off.map((t) => t.cpuUsPerMsg)) },
      rateRatio: spread(paired.map((p) => p.rateRatio)),
      cpuRatio: spread(paired.map((p) => p.cpuRatio)),
      quietPairs: quiet.length,
      quietRateRatio: quiet.length > 0 ? spread(quiet.map((p) => p.rateRatio)) : null,
      quietCpuRatio: quiet.length > 0 ? spread(quiet.map((p) => p.cpuRatio)) : null,
      paired,
    };
  });

  const date = new Date().toISOString();
  const commit = ((): string => {
    try { return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; }
  })();
  const out = {
    date,
    command: `node bench/pipeline-onoff.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    commit,
    durationSec: Math.round((Date.now() - started) / 1000),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    fleet: { devices: fleet.logins.length, policies: fleet.policies, statements: fleet.statements },
    summary,
    trials,
  };
  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `pipeline-onoff-${SUBJECT}-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);

  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  console.log('\n| Load | ON msg/s (median, min–max) | OFF msg/s (median, min–max) | ON ÷ OFF per pair: median [p25–p75] (min–max) | throughput cost | broker µs/msg ON / OFF | CPU per msg ON ÷ OFF: median [p25–p75] |');
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  for (const s of summary) {
    console.log(`| fan-in ${s.load} | ${n(s.on.rate.median)} (${n(s.on.rate.min)}–${n(s.on.rate.max)}) | ${n(s.off.rate.median)} (${n(s.off.rate.min)}–${n(s.off.rate.max)}) | ${s.rateRatio.median.toFixed(3)} [${s.rateRatio.p25.toFixed(3)}–${s.rateRatio.p75.toFixed(3)}] (${s.rateRatio.min.toFixed(3)}–${s.rateRatio.max.toFixed(3)}) | ${pct(1 - s.rateRatio.median)} | ${s.on.cpuUsPerMsg.median.toFixed(2)} / ${s.off.cpuUsPerMsg.median.toFixed(2)} | ${s.cpuRatio.median.toFixed(3)} [${s.cpuRatio.p25.toFixed(3)}–${s.cpuRatio.p75.toFixed(3)}] |`);
  }
  for (const s of summary) {
    const q = s.quietRateRatio !== null && s.quietCpuRatio !== null
      ? `ON ÷ OFF msg/s ${s.quietRateRatio.median.toFixed(3)} (${s.quietRateRatio.min.toFixed(3)}–${s.quietRateRatio.max.toFixed(3)}), CPU/msg ${s.quietCpuRatio.median.toFixed(3)} (${s.quietCpuRatio.min.toFixed(3)}–${s.quietCpuRatio.max.toFixed(3)})`
      : 'none';
    console.log(`fan-in ${s.load}: ${s.quietPairs} of ${s.paired.length} pairs ran with other processes under ${SHARED_CPU} core: ${q}`);
  }
  console.log(`\n${rounds} rounds, ${out.durationSec} s, ${fleet.policies} policies / ${fleet.statements} statements; results in ${path.relative(REPO_ROOT, file)}`);
}

if (args.serve !== undefined) {
  if (args.serve !== 'on' && args.serve !== 'off') throw new Error('--serve on|off');
  if (args.config === undefined || args['data-dir'] === undefined) throw new Error('--serve needs --config and --data-dir');
  await serve(args.serve, args.config, args['data-dir']);
} else {
  await main();
}
