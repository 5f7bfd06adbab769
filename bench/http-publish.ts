/**
 * HTTPS device API publish throughput with the pipeline on (issue 4 point 8): every request is
 * authenticated as a device (client certificate, or device token as Bearer), authorised twice
 * (`http:post` on the path, `mqtt:publish` on the topic) by ZeroTrustPolicyEngine, routed by the
 * broker to a live MQTT subscriber and answered only after the broker's write-behind flushed.
 *
 * The gateway runs in its own process (`--serve`), so the load generator does not share its event
 * loop. The generator is N keep-alive HTTPS connections (node:https Agent, maxSockets N), each
 * sending POST /api/v1/publish/bench/bench-0/t back to back for a bounded time after a 1 s warm-up; it counts 200s,
 * non-200s and latency percentiles, and the MQTT subscriber counts what arrived. Writes
 * bench/results/http-publish-<date>.json (with the machine's load average) and prints a table.
 *
 *   node bench/http-publish.ts [--concurrency 1,16,64] [--seconds 5] [--auth cert,token] [--payload 32]
 *   (internal) node bench/http-publish.ts --serve DIR
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { percentile, round } from './lib/stats.ts';

const SELF = fileURLToPath(import.meta.url);
const DEVICE = 'bench-0';
const TOPIC_PATH = `/api/v1/publish/bench/${DEVICE}/t`;
const WARMUP_MS = 1000;

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    concurrency: { type: 'string', default: '1,16,64' },
    seconds: { type: 'string', default: '5' },
    auth: { type: 'string', default: 'cert,token' },
    payload: { type: 'string', default: '32' },
  },
});

interface Served {
  https: number;
  mqtt: number;
  cert: string;
  key: string;
  ca: string;
  password: string;
}

/** Child: a gateway on loopback ephemeral ports with one device; prints what the client needs. */
async function serve(dir: string): Promise<void> {
  const { loadConfig } = await import('../src/config/load.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { registerDevice } = await import('../src/core/fleet/register-device.ts');
  const { setGeneratedDeviceCredential } = await import('../src/core/identity/credential-set.ts');
  const { chainPem } = await import('../src/core/pki/index.ts');
  const { loadFingerprintKey } = await import('../src/store/credential-fingerprint-key.ts');
  const { shippedCredentialChecker } = await import('../src/store/credential-lists.ts');
  const { openSecretBox } = await import('../src/store/master-key.ts');
  const { loadCa } = await import('../src/store/pki-files.ts');
  const config = loadConfig({ overrides: { dataDir: dir, hostnames: ['localhost', '127.0.0.1'], log: { level: 'silent' }, listeners: { mqtt: { port: 0 }, mqtts: { enabled: false }, https: { port: 0, host: '127.0.0.1' }, coap: { enabled: false }, coaps: { enabled: false } }, mqtt: { sysIntervalSeconds: 0 }, shield: { rateLimit: { device: { messagesPerSecond: 1e12, messagesBurst: 1e12, bytesPerSecond: 1e15, bytesBurst: 1e15 } } } } });
  const gw = await startGateway(config, pino({ level: 'silent' }));
  const box = openSecretBox(dir, config.secrets);
  const ca = loadCa(dir, box);
  if (!ca) throw new Error('no CA');
  const { certificate } = await registerDevice(gw.store, ca, { id: DEVICE, segment: 'bench' });
  const password = await setGeneratedDeviceCredential(gw.store, { checker: shippedCredentialChecker(), fingerprintKey: loadFingerprintKey(dir, box), events: gw.events }, { deviceId: DEVICE, actor: 'bench' });
  const out: Served = { https: gw.listeners.https!.port, mqtt: gw.listeners.mqtt!.port, cert: certificate.certPem, key: certificate.keyPem, ca: chainPem(ca), password };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.on('SIGTERM', () => void gw.stop().then(() => process.exit(0)));
}

/** A QoS 0 MQTT subscriber that counts deliveries. */
async function subscriber(port: number, password: string): Promise<{ count: () => number; close: () => void }> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = 0;
  let subscribed: () => void = () => undefined;
  const ready = new Promise<void>((r) => (subscribed = r));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => {
    if (p.cmd === 'publish') received++;
    else if (p.cmd === 'connack') socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `bench/${DEVICE}/#`, qos: 0 }] }));
    else if (p.cmd === 'suback') subscribed();
  });
  socket.on('data', (d: Buffer) => parser.parse(d));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: DEVICE, username: DEVICE, password: Buffer.from(password) }));
  await ready;
  return { count: () => received, close: () => socket.destroy() };
}

interface Trial {
  auth: string;
  concurrency: number;
  seconds: number;
  ok: number;
  failed: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  mqttReceived: number;
}

async function trial(s: Served, auth: 'cert' | 'token', concurrency: number, seconds: number, payload: Buffer): Promise<Trial> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: s.ca, ...(auth === 'cert' ? { cert: s.cert, key: s.key } : {}) });
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': payload.length };
  if (auth === 'token') headers.authorization = `Bearer ${DEVICE}.${s.password}`;
  const sub = await subscriber(s.mqtt, s.password);
  const post = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.https, servername: 'localhost', method: 'POST', path: TOPIC_PATH, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(payload);
    });
  // Warm-up, untimed: every connection handshakes (with tokens, pays its one scrypt) and the
  // JIT settles, so the order of trials does not decide the figures.
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      do await post();
      while (performance.now() < warmEnd);
    }),
  );
  const before = sub.count();
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await post();
        latencies.push(performance.now() - t0);
        if (status === 200) ok++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  const mqttReceived = sub.count() - before;
  sub.close();
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { auth, concurrency, seconds: round(elapsed, 2), ok, failed, rps: round(ok / elapsed), p50ms: round(percentile(latencies, 50), 2), p99ms: round(percentile(latencies, 99), 2), mqttReceived };
}

async function main(): Promise<void> {
  if (args.serve !== undefined) return serve(args.serve);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-http-'));
  const child = spawn(process.execPath, [SELF, '--serve', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const served = JSON.parse(line) as Served;
    const payload = Buffer.alloc(Number(args.payload), 0x61);
    const results: Trial[] = [];
    for (const auth of args.auth.split(',') as Array<'cert' | 'token'>) {
      for (const c of args.concurrency.split(',').map(Number)) {
        const r = await trial(served, auth, c, Number(args.seconds), payload);
        results.push(r);
        console.error(JSON.stringify(r));
      }
    }
    const resultsDir = path.join(path.dirname(SELF), 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `http-publish-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cores: os.cpus().length, loadavg: os.loadavg(), payloadBytes: payload.length, trials: results }, null, 2)}\n`);
    console.log(`HTTPS publish (POST ${TOPIC_PATH}, ${payload.length}-byte payload, keep-alive, pipeline on; node ${process.version}, ${os.cpus().length} cores)\n`);
    console.log('| auth | connections | req/s | p50 ms | p99 ms | non-200 | MQTT received |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of results) console.log(`| ${r.auth} | ${r.concurrency} | ${r.rps} | ${r.p50ms} | ${r.p99ms} | ${r.failed} | ${r.mqttReceived}/${r.ok} |`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
