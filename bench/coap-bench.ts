/**
 * CoAP GET and POST requests/s against Palisade and against libcoap's coap-server-notls, in the
 * same run with the same load generator (issue 4 point 8, target ratio >= 1.0x).
 *
 * Each server runs in its own process on loopback. The load generator is one node:dgram socket
 * keeping N Confirmable requests outstanding (a new one as each response arrives, a request
 * unanswered for 2 s is counted lost and replaced), for a bounded time after a warm-up.
 *  - Palisade: GET /ps/bench/r (a retained message read through identity, coap:get and the
 *    messaging facade's mqtt:subscribe/receive checks) and POST /ps/bench/p (coap:post and
 *    mqtt:publish, answered after the broker's write-behind flushed: QoS 1 semantics), over
 *    plain UDP with an anonymous segment.
 *  - libcoap: GET /example_data (seeded by a PUT) and POST /bench (a dynamic resource, `-d`,
 *    created by a PUT; libcoap's example server stores the POSTed body and answers 2.04).
 * Only 2.xx responses count; the code mix is printed so an error path cannot pass for speed.
 *
 * Each load runs `--rounds` times in ABBA order (Palisade first in odd rounds, libcoap first in
 * even ones), so drift on a shared machine falls on both; the row reports medians.
 *
 *   node bench/coap-bench.ts [--concurrency 1,32] [--seconds 5] [--payload 32] [--rounds 3]
 *   (internal) node bench/coap-bench.ts --serve DIR
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decode, encode, type CoapOption } from '../src/protocols/coap/codec.ts';
import { Code, codeString, MessageType, Option } from '../src/protocols/coap/constants.ts';

const SELF = fileURLToPath(import.meta.url);
const WARMUP_MS = 1000;

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    concurrency: { type: 'string', default: '1,32' },
    seconds: { type: 'string', default: '5' },
    payload: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
  },
});

async function serve(dir: string): Promise<void> {
  const { loadConfig } = await import('../src/config/load.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { pino } = await import('pino');
  const config = loadConfig({
    overrides: {
      dataDir: dir,
      log: { level: 'silent' },
      listeners: { mqtt: { port: 0 }, mqtts: { enabled: false }, https: { enabled: false }, coaps: { enabled: false }, coap: { port: 0, anonymous: { segment: 'bench' }, maxDatagramsPerSecond: 1_000_000 } },
      policy: { segments: { bench: { publish: ['bench/#'], subscribe: ['bench/#'] } } },
      mqtt: { sysIntervalSeconds: 0 },
      // libcoap has no rate limits: the shield's buckets run but never bind (one load generator = one device).
      shield: { rateLimit: { device: { messagesPerSecond: 1e12, messagesBurst: 1e12, bytesPerSecond: 1e15, bytesBurst: 1e15 } } },
    },
  });
  const gw = await startGateway(config, pino({ level: 'silent' }));
  process.stdout.write(`${JSON.stringify({ port: gw.listeners.coap?.port })}\n`);
  process.on('SIGTERM', () => {
    void gw.stop().then(() => process.exit(0));
  });
}

interface Result { ok: number; codes: Record<string, number>; lost: number; rps: number; p50: number; p99: number; cpuUsPerReq: number }

/** utime + stime of a process, milliseconds (Linux /proc; clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

function uriOptions(p: string): CoapOption[] {
  return p.split('/').filter((s) => s.length > 0).map((s) => ({ number: Option.URI_PATH, value: Buffer.from(s) }));
}

/** N outstanding CON requests on one socket for `seconds`; counts 2.xx per second after warm-up. */
async function load(port: number, method: number, p: string, payload: Buffer, concurrency: number, seconds: number, serverPid = 0): Promise<Result> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const options = uriOptions(p);
  const outstanding = new Map<number, number>();
  let mid = randomBytes(2).readUInt16BE(0);
  let measuring = false;
  let stopping = false;
  let ok = 0;
  let lost = 0;
  const codes: Record<string, number> = {};
  const lat: number[] = [];
  const send = (): void => {
    if (stopping) return;
    mid = (mid + 1) & 0xffff;
    const token = Buffer.alloc(4);
    token.writeUInt32BE(mid);
    outstanding.set(mid, performance.now());
    sock.send(encode({ type: MessageType.CON, code: method, messageId: mid, token, options, payload }), port, '127.0.0.1');
  };
  sock.on('message', (d) => {
    const r = decode(d);
    if (r.kind !== 'message' || r.message.type !== MessageType.ACK || r.message.code === Code.EMPTY) return;
    const started = outstanding.get(r.message.messageId);
    if (started === undefined) return;
    outstanding.delete(r.message.messageId);
    if (measuring) {
      const c = codeString(r.message.code);
      codes[c] = (codes[c] ?? 0) + 1;
      if (r.message.code >> 5 === 2) {
        ok++;
        lat.push(performance.now() - started);
      }
    }
    send();
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [m, t] of outstanding) {
      if (now - t < 2000) continue;
      outstanding.delete(m);
      if (measuring) lost++;
      send();
    }
  }, 250);
  for (let i = 0; i < concurrency; i++) send();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  const cpu0 = cpuMs(serverPid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const cpu1 = cpuMs(serverPid);
  const elapsed = (performance.now() - t0) / 1000;
  stopping = true;
  clearInterval(sweep);
  await new Promise((r) => setTimeout(r, 100));
  sock.close();
  lat.sort((a, b) => a - b);
  const pct = (q: number): number => Math.round((lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0) * 100) / 100;
  return { ok, codes, lost, rps: Math.round(ok / elapsed), p50: pct(0.5), p99: pct(0.99), cpuUsPerReq: ok > 0 ? Math.round(((cpu1 - cpu0) * 1000) / ok * 10) / 10 : NaN };
}

async function once(port: number, method: number, p: string, payload: string): Promise<string> {
  const r = await load(port, method, p, Buffer.from(payload), 1, 0.2);
  return Object.keys(r.codes).join(',');
}

/** The run with the median req/s (its latency and CPU figures come with it). */
function medianOf(results: Result[]): Result {
  const sorted = [...results].sort((x, y) => x.rps - y.rps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function startChild(cmd: string, argv: string[]): ChildProcess {
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function main(): Promise<void> {
  if (args.serve !== undefined) return serve(args.serve);
  const seconds = Number(args.seconds);
  const concurrencies = args.concurrency.split(',').map(Number);
  const payload = Buffer.alloc(Number(args.payload), 0x61);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-coap-bench-'));
  const pal0 = startChild(process.execPath, [SELF, '--serve', dir]);
  const line = await new Promise<string>((resolve) => createInterface({ input: pal0.stdout! }).once('line', resolve));
  const palPort = (JSON.parse(line) as { port: number }).port;
  const libPort = 20_000 + Math.floor(Math.random() * 20_000);
  const lib0 = startChild('coap-server-notls', ['-A', '127.0.0.1', '-p', String(libPort), '-v', '0', '-d', '4']);
  await new Promise((r) => setTimeout(r, 500));
  const rows: string[] = [];
  try {
    // Seed the resources both servers read.
    console.log(`seed palisade PUT: ${await once(palPort, Code.PUT, '/ps/bench/r', payload.toString())}, libcoap PUT: ${await once(libPort, Code.PUT, '/example_data', payload.toString())}`);
    console.log(`libcoap dynamic resource PUT /bench: ${await once(libPort, Code.PUT, '/bench', payload.toString())}, POST /bench: ${await once(libPort, Code.POST, '/bench', payload.toString())}`);
    for (const c of concurrencies) {
      for (const [name, method, palPath, libPath, body] of [['GET', Code.GET, '/ps/bench/r', '/example_data', Buffer.alloc(0)], ['POST', Code.POST, '/ps/bench/p', '/bench', payload]] as const) {
        const pal: Result[] = [];
        const lib: Result[] = [];
        for (let r = 0; r < Number(args.rounds); r++) {
          const runPal = async (): Promise<void> => { pal.push(await load(palPort, method, palPath, body, c, seconds, pal0.pid)); };
          const runLib = async (): Promise<void> => { lib.push(await load(libPort, method, libPath, body, c, seconds, lib0.pid)); };
          if (r % 2 === 0) { await runPal(); await runLib(); } else { await runLib(); await runPal(); }
        }
        const a = medianOf(pal);
        const b = medianOf(lib);
        const ratio = b.rps > 0 ? Math.round((a.rps / b.rps) * 100) / 100 : Infinity;
        const cpuRatio = Math.round((b.cpuUsPerReq / a.cpuUsPerReq) * 100) / 100;
        const ratios = pal.map((x, i) => (x.rps / (lib[i]?.rps ?? NaN)).toFixed(2)).join('/');
        const row = `${name} c=${c}: palisade ${a.rps} req/s (p50 ${a.p50} ms, p99 ${a.p99} ms, ${a.cpuUsPerReq} us CPU/req, codes ${JSON.stringify(a.codes)}, lost ${a.lost}) | libcoap ${b.rps} req/s (p50 ${b.p50} ms, p99 ${b.p99} ms, ${b.cpuUsPerReq} us CPU/req, codes ${JSON.stringify(b.codes)}, lost ${b.lost}) | ratio ${ratio}x req/s (per round ${ratios}), ${cpuRatio}x CPU efficiency`;
        console.log(row);
        rows.push(row);
      }
    }
  } finally {
    await stop(pal0);
    await stop(lib0);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
