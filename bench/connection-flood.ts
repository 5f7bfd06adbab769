/**
 * Legitimate devices under a connection flood from one address (issue 5, point 8, second half):
 * "under a connection flood from one address (for example 5,000 connections/s on loopback,
 * bounded in time), legitimate devices keep a p99 latency within 2x of their baseline."
 *
 * For each target, in one run:
 *   palisade       the gateway with its DEFAULT shield settings (the default flapping exemption is
 *                  127.0.0.1 and ::1, so the flooder's 127.0.0.2 is counted and banned; since the
 *                  ban list reaches the kernel, its later SYNs are dropped there).
 *   palisade-flap  the same, but flapping exempts 127.0.0.1 only, so the flooder at 127.0.0.2 is
 *                  counted as a remote attacker would be (the legitimate fleet on 127.0.0.1 stays
 *                  exempt, as 20 devices would be 20 addresses in the field).
 *   mosquitto      Debian's mosquitto, minimal config (anonymous listener on 127.0.0.1), as the peer.
 * Besides the shield defaults, the gateway is given only what the benchmark needs to run: a plain
 * MQTT listener on 127.0.0.1 port 0 with `anonymous: { segment: bench }`, a `bench` segment
 * allowed `bench/#`, the other listeners off (DNS too), log silent, `$SYS` off.
 *
 * Legitimate load (this process): `--clients` MQTT.js publishers on 127.0.0.1, each QoS 1 at
 * `--msg-rate` msg/s to its own topic, and one QoS 1 subscriber to all of them; latency is
 * end-to-end (send time in the payload, same clock) and PUBLISH→PUBACK. Phases: warm-up (2 s,
 * not counted), baseline, flood, recovery. The flood is another process (its CPU is not this
 * one's): raw TCP connections bound to 127.0.0.2 at `--rate`/s, bounded in count, time and
 * concurrency; each sends an MQTT 3.1.1 CONNECT (or nothing with `--flood-mode silent`) and is
 * reset `--hold-ms` after it was opened, or as soon as the server answers or hangs up.
 *
 *   node bench/connection-flood.ts [--seconds 10] [--rate 5000] [--clients 20] [--msg-rate 20]
 *        [--hold-ms 200] [--flood-mode connect|silent] [--targets palisade,palisade-flap,mosquitto]
 *        [--rounds 1] [--keep]
 *   (internal) node bench/connection-flood.ts --serve DIR [--flap-counts-flooder]
 *   (internal) node bench/connection-flood.ts --flood JSON
 *
 * Prints Markdown tables; writes bench/results/connection-flood-<date>.json (not committed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import { sleep } from './lib/clock.ts';
import { cpuSeconds, machineCpuSeconds, selfCpuSeconds } from './lib/proc.ts';
import { median, percentile, round } from './lib/stats.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MOSQUITTO_BIN = '/usr/sbin/mosquitto';
const FLOOD_ADDRESS = '127.0.0.2';
const WARMUP_MS = 2000;
/** Longest wait for deliveries still in flight after the last phase. */
const DRAIN_MS = 3000;

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    'flap-counts-flooder': { type: 'boolean', default: false },
    flood: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5000' },
    clients: { type: 'string', default: '20' },
    'msg-rate': { type: 'string', default: '20' },
    'hold-ms': { type: 'string', default: '200' },
    'flood-mode': { type: 'string', default: 'connect' },
    targets: { type: 'string', default: 'palisade,palisade-flap,mosquitto' },
    rounds: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});

// -------------------------------------------------------------------------------------------------
// Child processes (tracked so an interrupted run leaves none behind)
// -------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function startChild(cmd: string, argv: string[], ipc = false): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  const append = (d: Buffer): void => { tail = (tail + d.toString()).slice(-8192); };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { children.delete(child); resolve(); }));
  return { child, output: () => tail, exited };
}

async function stopChild(c: { child: ChildProcess; exited: Promise<void> }): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const done = await Promise.race([c.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    c.child.kill('SIGKILL');
    await c.exited;
  }
}

function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

// -------------------------------------------------------------------------------------------------
// Gateway process: defaults plus what the benchmark needs; counts admission verdicts and events
// -------------------------------------------------------------------------------------------------

type Counters = Record<string, number>;

async function serve(dir: string, flapCountsFlooder: boolean): Promise<void> {
  const { pino } = await import('pino');
  const { loadConfig } = await import('../src/config/load.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { Admission } = await import('../src/shield/admission.ts');
  const { PreAuthGate } = await import('../src/shield/bans/pre-auth-gate.ts');
  const { EventLog } = await import('../src/core/events/event-log.ts');
  // Counting wrappers, in this process only: they observe verdicts and change none.
  const counters: Record<'admission' | 'connect' | 'events', Counters> = { admission: {}, connect: {}, events: {} };
  const bump = (c: Counters, k: string): void => { c[k] = (c[k] ?? 0) + 1; };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with this gateway's `this`
  const admit = Admission.prototype.admit;
  Admission.prototype.admit = function countedAdmit(this: InstanceType<typeof Admission>, address: string) {
    const v = admit.call(this, address);
    bump(counters.admission, `${v.admitted ? 'admitted' : v.reason}@${address}`);
    return v;
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with this gateway's `this`
  const checkConnect = PreAuthGate.prototype.checkConnect;
  PreAuthGate.prototype.checkConnect = function countedCheckConnect(this: InstanceType<typeof PreAuthGate>, ...a: Parameters<typeof checkConnect>) {
    const v = checkConnect.apply(this, a);
    bump(counters.connect, `${v.allowed ? 'allowed' : v.flapping ? 'flapping' : 'banned'}@${a[0].address}`);
    return v;
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with this gateway's `this`
  const record = EventLog.prototype.record;
  EventLog.prototype.record = function countedRecord(this: InstanceType<typeof EventLog>, ...a: Parameters<typeof record>) {
    bump(counters.events, a[0]);
    record.apply(this, a);
  };
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      log: { level: 'silent' },
      listeners: { mqtt: { host: '127.0.0.1', port: 0, anonymous: { segment: 'bench' } }, mqtts: { enabled: false }, https: { enabled: false }, coap: { enabled: false }, coaps: { enabled: false }, dns: { enabled: false } },
      policy: { segments: { bench: { publish: ['bench/#'], subscribe: ['bench/#'] } } },
      mqtt: { sysIntervalSeconds: 0 },
      ...(flapCountsFlooder ? { shield: { flapping: { exemptAddresses: ['127.0.0.1/32', '::1'] } } } : {}),
    },
  });
  const gw = await startGateway(config, pino({ level: 'silent' }));
  process.on('message', (m: unknown) => {
    if (m === 'counters') process.send?.({ counters });
  });
  process.send?.({ port: gw.listeners['mqtt']?.port, shield: config.shield });
  const stop = (): void => {
    gw.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// -------------------------------------------------------------------------------------------------
// Flood process
// -------------------------------------------------------------------------------------------------

interface FloodParams {
  host: string;
  port: number;
  localAddress: string;
  rate: number;
  /** Wall-clock start (Date.now()), so the flood begins exactly at the phase boundary. */
  startAt: number;
  seconds: number;
  maxAttempts: number;
  maxOpen: number;
  holdMs: number;
  mode: 'connect' | 'silent';
}

interface FloodResult {
  scheduled: number;
  attempts: number;
  /** Not opened because `maxOpen` sockets were already open. */
  skippedAtCap: number;
  durationMs: number;
  tcpConnected: number;
  outcomes: Counters;
  cpuSeconds: number;
}

/** MQTT 3.1.1 CONNECT (§3.1): clean session, keep alive 30 s, client id `id`. */
function connectPacket(id: string): Buffer {
  const cid = Buffer.from(id);
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 30, cid.length >> 8, cid.length & 0xff]), cid]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

async function flood(p: FloodParams): Promise<FloodResult> {
  const cpu0 = selfCpuSeconds();
  const wait = p.startAt - Date.now();
  if (wait > 0) await sleep(wait);
  const out: FloodResult = { scheduled: 0, attempts: 0, skippedAtCap: 0, durationMs: 0, tcpConnected: 0, outcomes: {}, cpuSeconds: 0 };
  const count = (k: string): void => { out.outcomes[k] = (out.outcomes[k] ?? 0) + 1; };
  let open = 0;
  const t0 = performance.now();
  const end = t0 + p.seconds * 1000;

  const openOne = (n: number): void => {
    out.attempts++;
    open++;
    let decided = false;
    let connected = false;
    const s = net.connect({ host: p.host, port: p.port, localAddress: p.localAddress });
    const decide = (outcome: string): void => {
      if (decided) return;
      decided = true;
      count(outcome);
      clearTimeout(hold);
      // A reset, not a FIN: the flooder keeps no TIME_WAIT, so 127.0.0.2's ephemeral ports last.
      if (!s.destroyed) {
        if (connected) s.resetAndDestroy();
        else s.destroy();
      }
    };
    const hold = setTimeout(() => decide(connected ? 'noAnswer' : 'connectPending'), p.holdMs);
    s.once('connect', () => {
      connected = true;
      out.tcpConnected++;
      if (p.mode === 'connect') s.write(connectPacket(`flood-${process.pid}-${n}`));
    });
    s.on('data', (b: Buffer) => {
      // CONNACK (§3.2): 0x20 0x02 flags code.
      if (b[0] === 0x20 && b.length >= 4) decide(b[3] === 0 ? 'connackAccepted' : `connackRefused(${b[3]})`);
      else decide('otherData');
    });
    s.on('error', (e: NodeJS.ErrnoException) => decide(connected ? `serverReset(${e.code ?? 'error'})` : `connectError(${e.code ?? 'error'})`));
    s.once('close', () => {
      open--;
      decide(connected ? 'serverClosed' : 'closedBeforeConnect');
    });
  };

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= end || out.scheduled >= p.maxAttempts) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.min(p.maxAttempts, Math.floor(((now - t0) / 1000) * p.rate)) - out.scheduled;
      for (let i = 0; i < due; i++) {
        out.scheduled++;
        if (open >= p.maxOpen) out.skippedAtCap++;
        else openOne(out.scheduled);
      }
    }, 2);
  });
  out.durationMs = performance.now() - t0;
  // Let the last sockets reach their hold time (bounded).
  const deadline = performance.now() + p.holdMs + 2000;
  while (open > 0 && performance.now() < deadline) await sleep(20);
  if (open > 0) out.outcomes['stillOpenAtExit'] = open;
  out.cpuSeconds = selfCpuSeconds() - cpu0;
  return out;
}

// -------------------------------------------------------------------------------------------------
// Targets
// -------------------------------------------------------------------------------------------------

type TargetName = 'palisade' | 'palisade-flap' | 'mosquitto';

interface Server {
  port: number;
  pid: number;
  counters(): Promise<Record<string, Counters> | null>;
  stop(): Promise<void>;
  shield?: unknown;
}

async function startPalisade(workDir: string, flapCountsFlooder: boolean): Promise<Server> {
  const dir = path.join(workDir, 'data');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const c = startChild(process.execPath, [SELF, '--serve', dir, ...(flapCountsFlooder ? ['--flap-counts-flooder'] : [])], true);
  const ready = await new Promise<{ port: number; shield: unknown }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`gateway not ready in 30 s: ${c.output().slice(-800)}`)), 30_000);
    c.child.once('message', (m: { port: number; shield: unknown }) => { clearTimeout(t); resolve(m); });
    void c.exited.then(() => { clearTimeout(t); reject(new Error(`gateway exited: ${c.output().slice(-800)}`)); });
  });
  return {
    port: ready.port,
    pid: c.child.pid!,
    shield: ready.shield,
    counters: () => new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), 5000);
      c.child.once('message', (m: { counters: Record<string, Counters> }) => { clearTimeout(t); resolve(m.counters); });
      c.child.send('counters');
    }),
    stop: () => stopChild(c),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startMosquitto(workDir: string): Promise<Server> {
  const port = await freePort();
  const conf = path.join(workDir, 'mosquitto.conf');
  writeFileSync(conf, [
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n'));
  const c = startChild(MOSQUITTO_BIN, ['-c', conf]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || c.child.exitCode !== null) throw new Error(`mosquitto not listening: ${c.output().slice(-800)}`);
    await sleep(50);
  }
  return { port, pid: c.child.pid!, counters: () => Promise.resolve(null), stop: () => stopChild(c) };
}

// -------------------------------------------------------------------------------------------------
// Legitimate fleet
// -------------------------------------------------------------------------------------------------

const PHASES = ['baseline', 'flood', 'recovery'] as const;
type Phase = (typeof PHASES)[number];

interface PhaseSamples {
  sent: number;
  delivered: number;
  e2e: number[];
  puback: number[];
  pubackErrors: number;
  disconnects: number;
}

interface PhaseWindow {
  phase: Phase;
  start: number;
  end: number;
}

class Fleet {
  readonly clients: MqttClient[] = [];
  sink: MqttClient | null = null;
  readonly samples = new Map<Phase, PhaseSamples>(PHASES.map((p) => [p, { sent: 0, delivered: 0, e2e: [], puback: [], pubackErrors: 0, disconnects: 0 }]));
  windows: PhaseWindow[] = [];
  /** Key `client:seq` -> phase and send time (performance.now()). */
  readonly #inFlight = new Map<string, { phase: Phase; t: number }>();
  readonly #timers: NodeJS.Timeout[] = [];
  #seq = 0;

  phaseAt(wall: number): Phase | null {
    for (const w of this.windows) if (wall >= w.start && wall < w.end) return w.phase;
    return null;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async connect(port: number, n: number): Promise<void> {
    const opts = { protocolVersion: 4 as const, reconnectPeriod: 500, connectTimeout: 10_000, keepalive: 30, clean: true };
    const up = (c: MqttClient): Promise<void> => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('legit client did not connect in 15 s')), 15_000);
      c.once('connect', () => { clearTimeout(t); resolve(); });
    });
    const onClose = (): void => {
      const ph = this.phaseAt(Date.now());
      if (ph) this.samples.get(ph)!.disconnects++;
    };
    this.sink = mqttConnect(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: 'legit-sink' });
    this.sink.on('close', onClose);
    await up(this.sink);
    await this.sink.subscribeAsync('bench/legit/+', { qos: 1 });
    this.sink.on('message', (_topic, payload) => {
      const now = performance.now();
      let m: { device?: number; seq?: number };
      try { m = JSON.parse(payload.toString()) as typeof m; } catch { return; }
      const key = `${m.device}:${m.seq}`;
      const f = this.#inFlight.get(key);
      if (!f) return; // a duplicate (QoS 1) or a warm-up message
      this.#inFlight.delete(key);
      const s = this.samples.get(f.phase)!;
      s.delivered++;
      s.e2e.push(now - f.t);
    });
    for (let i = 0; i < n; i++) {
      const c = mqttConnect(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: `legit-${i}` });
      c.on('close', onClose);
      c.on('error', () => undefined);
      this.clients.push(c);
    }
    await Promise.all(this.clients.map(up));
  }

  /** Each client publishes every 1000/rate ms, staggered; stopped by stop(). */
  start(rate: number): void {
    const period = 1000 / rate;
    this.clients.forEach((c, i) => {
      const topic = `bench/legit/${i}`;
      const begin = setTimeout(() => {
        this.#timers.push(setInterval(() => this.#publish(c, i, topic), period));
      }, (period * i) / this.clients.length);
      this.#timers.push(begin);
    });
  }

  #publish(c: MqttClient, i: number, topic: string): void {
    const seq = ++this.#seq;
    const phase = this.phaseAt(Date.now());
    const t = performance.now();
    // Telemetry-like JSON, as a device would send; the send time is read back by the sink.
    const payload = `{"device":${i},"seq":${seq},"sentAt":${t.toFixed(3)},"temperature":21.5}`;
    if (phase) {
      this.samples.get(phase)!.sent++;
      this.#inFlight.set(`${i}:${seq}`, { phase, t });
    }
    c.publish(topic, payload, { qos: 1 }, (err) => {
      if (!phase) return;
      const s = this.samples.get(phase)!;
      if (err) s.pubackErrors++;
      else s.puback.push(performance.now() - t);
    });
  }

  stopPublishing(): void {
    for (const t of this.#timers) clearInterval(t);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients, ...(this.sink ? [this.sink] : [])].map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

// -------------------------------------------------------------------------------------------------
// One target
// -------------------------------------------------------------------------------------------------

interface PhaseReport {
  phase: Phase;
  seconds: number;
  sent: number;
  delivered: number;
  e2e: { p50: number; p99: number; max: number };
  puback: { p50: number; p99: number; max: number };
  pubackErrors: number;
  legitDisconnects: number;
  serverCpuCores: number;
  /** This process: the legitimate clients and the sink. */
  legitCpuCores: number;
  machineBusyCores: number;
  flood: FloodResult | null;
  gateway: Record<string, Counters> | null;
}

interface TargetReport {
  target: TargetName;
  round: number;
  phases: PhaseReport[];
  undeliveredAtEnd: number;
  shield?: unknown;
}

function stats(xs: number[]): { p50: number; p99: number; max: number } {
  const s = Float64Array.from(xs).sort();
  return { p50: round(percentile(s, 50), 2), p99: round(percentile(s, 99), 2), max: round(s.length > 0 ? s[s.length - 1]! : Number.NaN, 2) };
}

function diff(a: Record<string, Counters> | null, b: Record<string, Counters> | null): Record<string, Counters> | null {
  if (!a || !b) return null;
  const out: Record<string, Counters> = {};
  for (const [group, counts] of Object.entries(b)) {
    const d: Counters = {};
    for (const [k, v] of Object.entries(counts)) {
      const x = v - (a[group]?.[k] ?? 0);
      if (x !== 0) d[k] = x;
    }
    out[group] = d;
  }
  return out;
}

function log(msg: string): void {
  console.log(`[flood ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function runTarget(target: TargetName, roundNo: number, workDir: string, o: { seconds: number; recovery: number; rate: number; clients: number; msgRate: number; holdMs: number; mode: 'connect' | 'silent' }): Promise<TargetReport> {
  const dir = path.join(workDir, `${target}-${roundNo}`);
  mkdirSync(dir, { recursive: true });
  const server = target === 'mosquitto' ? await startMosquitto(dir) : await startPalisade(dir, target === 'palisade-flap');
  const fleet = new Fleet();
  let floodProc: ReturnType<typeof startChild> | null = null;
  try {
    await fleet.connect(server.port, o.clients);
    const t0 = Date.now() + 1500 + WARMUP_MS;
    const durations: Record<Phase, number> = { baseline: o.seconds, flood: o.seconds, recovery: o.recovery };
    let at = t0;
    fleet.windows = PHASES.map((phase) => {
      const w = { phase, start: at, end: at + durations[phase] * 1000 };
      at = w.end;
      return w;
    });
    // The flood process starts now (its start-up CPU falls in the warm-up) and waits for its phase.
    const floodWin = fleet.windows[1]!;
    const fp: FloodParams = { host: '127.0.0.1', port: server.port, localAddress: FLOOD_ADDRESS, rate: o.rate, startAt: floodWin.start, seconds: o.seconds, maxAttempts: Math.ceil(o.rate * o.seconds), maxOpen: 5000, holdMs: o.holdMs, mode: o.mode };
    floodProc = startChild(process.execPath, [SELF, '--flood', JSON.stringify(fp)]);
    const floodDone = floodProc.exited;
    fleet.start(o.msgRate);
    log(`${target}: ${o.clients} clients up on port ${server.port}; warm-up, then ${PHASES.map((p) => `${p} ${durations[p]} s`).join(', ')}`);
    const phases: PhaseReport[] = [];
    await sleep(Math.max(0, t0 - Date.now()));
    for (const w of fleet.windows) {
      const c0 = await server.counters();
      const cpu0 = cpuSeconds(server.pid);
      const m0 = machineCpuSeconds()[0];
      const self0 = selfCpuSeconds();
      const wall0 = Date.now();
      await sleep(Math.max(0, w.end - Date.now()));
      const secs = (Date.now() - wall0) / 1000;
      const cpu = (cpuSeconds(server.pid) - cpu0) / secs;
      const busy = (machineCpuSeconds()[0] - m0) / secs;
      const self = (selfCpuSeconds() - self0) / secs;
      const c1 = await server.counters();
      const s = fleet.samples.get(w.phase)!;
      phases.push({
        phase: w.phase, seconds: round(secs, 2), sent: s.sent, delivered: 0, e2e: { p50: 0, p99: 0, max: 0 }, puback: { p50: 0, p99: 0, max: 0 },
        pubackErrors: 0, legitDisconnects: 0, serverCpuCores: round(cpu, 2), legitCpuCores: round(self, 2), machineBusyCores: round(busy, 2), flood: null, gateway: diff(c0, c1),
      });
    }
    fleet.stopPublishing();
    // The flood ended with its phase; its process reports once its last sockets are gone.
    const ok = await Promise.race([floodDone.then(() => true), sleep(o.holdMs + 10_000).then(() => false)]);
    if (!ok) await stopChild(floodProc);
    const line = floodProc.output().trim().split('\n').pop() ?? '';
    try { phases[1]!.flood = JSON.parse(line) as FloodResult; } catch { log(`flood output unreadable: ${floodProc.output().slice(-500)}`); }
    const drainEnd = Date.now() + DRAIN_MS;
    while (fleet.inFlight > 0 && Date.now() < drainEnd) await sleep(50);
    // Latencies are read after the drain, so a late delivery still counts in its phase.
    for (const p of phases) {
      const s = fleet.samples.get(p.phase)!;
      Object.assign(p, { delivered: s.delivered, e2e: stats(s.e2e), puback: stats(s.puback), pubackErrors: s.pubackErrors, legitDisconnects: s.disconnects });
    }
    return { target, round: roundNo, phases, undeliveredAtEnd: fleet.inFlight, ...(server.shield !== undefined ? { shield: server.shield } : {}) };
  } finally {
    await fleet.close();
    if (floodProc) await stopChild(floodProc);
    await server.stop();
  }
}

// -------------------------------------------------------------------------------------------------
// Report
// -------------------------------------------------------------------------------------------------

function floodSummary(f: FloodResult | null): { attempts: string; rate: string; accepted: string; refused: string; other: string } {
  if (!f) return { attempts: '–', rate: '–', accepted: '–', refused: '–', other: '–' };
  let accepted = 0;
  let refused = 0;
  const other: string[] = [];
  for (const [k, v] of Object.entries(f.outcomes)) {
    if (k === 'connackAccepted') accepted += v;
    else if (k.startsWith('connackRefused') || k === 'serverClosed' || k.startsWith('serverReset')) refused += v;
    else other.push(`${k} ${v}`);
  }
  if (f.skippedAtCap > 0) other.push(`skipped (5,000 open) ${f.skippedAtCap}`);
  const n = (x: number): string => x.toLocaleString('en-US');
  return { attempts: n(f.attempts), rate: n(Math.round(f.attempts / (f.durationMs / 1000))), accepted: n(accepted), refused: n(refused), other: other.join(', ') || '–' };
}

/** Gateway-side refusals in a phase, from its admission and CONNECT verdicts (flooder's address only). */
function gatewaySummary(g: Record<string, Counters> | null): string {
  if (!g) return '–';
  const parts: string[] = [];
  for (const group of ['admission', 'connect'] as const) {
    for (const [k, v] of Object.entries(g[group] ?? {})) {
      const [verdict, addr] = k.split('@');
      if (addr === FLOOD_ADDRESS) parts.push(`${group === 'admission' ? 'accept' : 'CONNECT'} ${verdict} ${v.toLocaleString('en-US')}`);
      else if (verdict !== 'admitted' && verdict !== 'allowed') parts.push(`**legit ${addr} ${group} ${verdict} ${v}**`);
    }
  }
  const ev = Object.entries(g['events'] ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${parts.join('; ') || 'none'}${ev ? ` (events: ${ev})` : ''}`;
}

function printReport(reports: TargetReport[], command: string, meta: { date: string; load: number[] }): void {
  console.log(`\n${command}\n${meta.date}, load average ${meta.load.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)\n`);
  console.log('| Target | Phase | legit sent / delivered | e2e p50 / p99 / max ms | PUBACK p50 / p99 ms | legit drops | flood attempts (rate/s) | flood answered CONNACK 0 | refused (closed, reset, CONNACK≠0) | other flood outcomes | CPU cores: server / legit clients / flooder / machine busy | gateway verdicts on 127.0.0.2 |');
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|---|');
  for (const r of reports) {
    for (const p of r.phases) {
      const f = floodSummary(p.flood);
      console.log(`| ${r.target}${r.round > 1 || reports.some((x) => x.round > 1) ? ` #${r.round}` : ''} | ${p.phase} | ${p.sent} / ${p.delivered} | ${p.e2e.p50} / ${p.e2e.p99} / ${p.e2e.max} | ${p.puback.p50} / ${p.puback.p99} | ${p.legitDisconnects} | ${f.attempts}${p.flood ? ` (${f.rate})` : ''} | ${f.accepted} | ${f.refused} | ${f.other} | ${p.serverCpuCores} / ${p.legitCpuCores} / ${p.flood ? round(p.flood.cpuSeconds / (p.flood.durationMs / 1000), 2) : '–'} / ${p.machineBusyCores} | ${gatewaySummary(p.gateway)} |`);
    }
  }
  console.log('\n| Target | round | e2e p99 baseline ms | e2e p99 flood ms | flood ÷ baseline | target ≤ 2× | recovery ÷ baseline | PUBACK p99 flood ÷ baseline |');
  console.log('|---|--:|--:|--:|--:|---|--:|--:|');
  const ratios = new Map<string, number[]>();
  for (const r of reports) {
    const [b, f, rec] = r.phases;
    if (!b || !f || !rec) continue;
    const ratio = f.e2e.p99 / b.e2e.p99;
    ratios.set(r.target, [...(ratios.get(r.target) ?? []), ratio]);
    console.log(`| ${r.target} | ${r.round} | ${b.e2e.p99} | ${f.e2e.p99} | ${ratio.toFixed(2)}× | ${ratio <= 2 ? 'holds' : 'missed'} | ${(rec.e2e.p99 / b.e2e.p99).toFixed(2)}× | ${(f.puback.p99 / b.puback.p99).toFixed(2)}× |`);
  }
  if (reports.some((r) => r.round > 1)) {
    for (const [t, xs] of ratios) console.log(`| ${t} | median of ${xs.length} | | | ${median(xs).toFixed(2)}× | ${median(xs) <= 2 ? 'holds' : 'missed'} | | |`);
  }
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const o = {
    seconds,
    recovery: Math.max(1, Math.round(seconds / 2)),
    rate: Number(args.rate),
    clients: Number(args.clients),
    msgRate: Number(args['msg-rate']),
    holdMs: Number(args['hold-ms']),
    mode: args['flood-mode'] === 'silent' ? 'silent' as const : 'connect' as const,
  };
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number' && !(v > 0 && v <= 1_000_000)) throw new Error(`--${k} out of range: ${v}`);
  if (o.seconds > 600) throw new Error('--seconds at most 600');
  const targets = (args.targets ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '') as TargetName[];
  for (const t of targets) if (!['palisade', 'palisade-flap', 'mosquitto'].includes(t)) throw new Error(`unknown target ${t}`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'palisade-flood-'));
  const cleanup = (): void => {
    killChildren();
    if (args.keep !== true) rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  process.on('SIGTERM', () => { cleanup(); process.exit(143); });
  const date = new Date().toISOString();
  const load = os.loadavg();
  const command = `node bench/connection-flood.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const reports: TargetReport[] = [];
  const rounds = Number(args.rounds);
  if (!(rounds >= 1 && rounds <= 20)) throw new Error('--rounds 1..20');
  // Targets alternate within a round, so a drift in the machine's load reaches each of them.
  for (let r = 1; r <= rounds; r++) for (const t of targets) reports.push(await runTarget(t, r, workDir, o));
  const loadEnd = os.loadavg();
  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `connection-flood-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ date, command, loadAverageStart: load, loadAverageEnd: loadEnd, options: o, node: process.version, reports }, null, 2)}\n`);
  printReport(reports, command, { date, load });
  console.log(`\nload average at end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}; details in ${path.relative(REPO_ROOT, file)}`);
}

if (args.serve !== undefined) {
  await serve(args.serve, args['flap-counts-flooder'] === true);
} else if (args.flood !== undefined) {
  const r = await flood(JSON.parse(args.flood) as FloodParams);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
} else {
  await main();
  process.exit(0);
}
