/**
 * DTLS handshakes per second: Palisade's DtlsServer (src/protocols/dtls) against
 * `openssl s_server -dtls1_2` as the reference peer, in the same run, with the same load
 * generator: `openssl s_client -dtls1_2` processes in a bounded loop (each one full handshake,
 * a line echoed, close_notify). Modes: PSK (TLS_PSK_WITH_AES_128_CCM_8) and ECDHE-ECDSA with a
 * device certificate (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8).
 *
 *   node bench/dtls-handshakes.ts [--seconds 8] [--concurrency 2]
 *
 * Reports handshakes/s (bounded by the generator: one openssl process, ~50 ms of start-up, per
 * handshake) and the server's CPU milliseconds per handshake, read from /proc for the server
 * process alone (Palisade's server runs in a child process for that); 1000 / that is the
 * handshakes/s one core could serve. openssl s_server
 * serves DTLS clients one at a time, so it is measured at concurrency 1 and Palisade at both 1
 * and --concurrency. Loopback only; every loop stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chainPem, createCertificateAuthority, issueDeviceCertificate, issueServerCertificate } from '../src/core/pki/index.ts';
import { DtlsServer } from '../src/protocols/dtls/index.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, concurrency: { type: 'string', default: '2' }, serve: { type: 'string' } } });
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const PSK_HEX = Buffer.from('0123456789abcdef0123456789abcdef').toString('hex');

interface Files {
  dir: string;
  ca: string;
  srvCert: string;
  srvKey: string;
  devCert: string;
  devKey: string;
  caPem: string;
  srvCertPem: string;
  srvKeyPem: string;
}

async function material(): Promise<Files> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-dtls-bench-'));
  const ca = await createCertificateAuthority({ name: 'DtlsBench' });
  const server = await issueServerCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
  const device = await issueDeviceCertificate(ca, { deviceId: 'bench-1', segment: 'default' });
  const f = { dir, ca: join(dir, 'ca.pem'), srvCert: join(dir, 'srv.pem'), srvKey: join(dir, 'srv.key'), devCert: join(dir, 'dev.pem'), devKey: join(dir, 'dev.key') };
  // openssl s_server sends only -cert; give it the chain so clients can verify to the root.
  await writeFile(f.ca, chainPem(ca));
  await writeFile(f.srvCert, server.certPem + chainPem(ca));
  await writeFile(f.srvKey, server.keyPem);
  await writeFile(f.devCert, device.certPem);
  await writeFile(f.devKey, device.keyPem);
  return { ...f, caPem: chainPem(ca), srvCertPem: server.certPem, srvKeyPem: server.keyPem };
}

type Mode = 'psk' | 'ecdhe';

function clientArgs(mode: Mode, port: number, f: Files): string[] {
  const common = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`];
  return mode === 'psk'
    ? [...common, '-psk_identity', 'bench-1', '-psk', PSK_HEX, '-cipher', 'PSK-AES128-CCM8']
    : [...common, '-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-cert', f.devCert, '-key', f.devKey, '-CAfile', f.ca, '-verify_return_error'];
}

/**
 * One handshake: s_client -brief reports CONNECTION ESTABLISHED once the handshake (with the
 * server's Finished verified) is done; the process is then ended. Waiting for s_client's own exit
 * would measure its ~0.7 s of shutdown wait, not the server.
 */
function oneHandshake(args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('openssl', [...args, '-brief'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    let ok = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!ok && err.includes('CONNECTION ESTABLISHED')) {
        ok = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

async function load(args: string[], concurrency: number, seconds: number): Promise<{ ok: number; failed: number; elapsed: number }> {
  const end = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        if (await oneHandshake(args)) ok++;
        else failed++;
      }
    }),
  );
  return { ok, failed, elapsed: (Date.now() - start) / 1000 };
}

async function procCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

interface Row {
  server: string;
  mode: Mode;
  concurrency: number;
  handshakes: number;
  failed: number;
  perSecond: number;
  cpuMsPerHandshake: number;
}

/** The server side of a Palisade row, in its own process so its CPU time is its own. */
async function serve(filesJson: string): Promise<void> {
  const f = JSON.parse(filesJson) as Files;
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const server = new DtlsServer({
    socket,
    psk: async () => Buffer.from(PSK_HEX, 'hex'),
    cert: { certPem: f.srvCertPem, keyPem: f.srvKeyPem, caPem: f.caPem },
    maxHandshakes: 10_000,
    idleTimeoutMs: 2_000,
  });
  server.on('session', (s) => s.onData((d) => s.send(d)));
  process.stdout.write(`${socket.address().port}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

async function benchPalisade(f: Files, mode: Mode, concurrency: number): Promise<Row> {
  const child = spawn(process.execPath, [import.meta.filename, '--serve', JSON.stringify(f)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  await load(clientArgs(mode, port, f), 1, 1); // warm-up
  const cpu0 = await procCpuMs(child.pid!);
  const r = await load(clientArgs(mode, port, f), concurrency, SECONDS);
  const cpu = (await procCpuMs(child.pid!)) - cpu0;
  child.kill('SIGKILL');
  return { server: 'palisade', mode, concurrency, handshakes: r.ok, failed: r.failed, perSecond: r.ok / r.elapsed, cpuMsPerHandshake: cpu / Math.max(1, r.ok) };
}

async function benchOpenssl(f: Files, mode: Mode): Promise<Row> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args =
    mode === 'psk'
      ? ['s_server', '-dtls1_2', '-accept', String(port), '-nocert', '-psk', PSK_HEX, '-cipher', 'PSK-AES128-CCM8', '-quiet']
      : ['s_server', '-dtls1_2', '-accept', String(port), '-cert', f.srvCert, '-key', f.srvKey, '-Verify', '1', '-CAfile', f.ca, '-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-quiet'];
  const child: ChildProcess = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 500));
  await load(clientArgs(mode, port, f), 1, 1);
  const cpu0 = await procCpuMs(child.pid!);
  const r = await load(clientArgs(mode, port, f), 1, SECONDS);
  const cpu = (await procCpuMs(child.pid!)) - cpu0;
  child.kill('SIGKILL');
  return { server: 'openssl s_server', mode, concurrency: 1, handshakes: r.ok, failed: r.failed, perSecond: r.ok / r.elapsed, cpuMsPerHandshake: cpu / Math.max(1, r.ok) };
}

if (values.serve !== undefined) {
  await serve(values.serve);
} else {
  await main();
}

async function main(): Promise<void> {
const f = await material();
const rows: Row[] = [];
try {
  for (const mode of ['psk', 'ecdhe'] as const) {
    rows.push(await benchOpenssl(f, mode));
    rows.push(await benchPalisade(f, mode, 1));
    if (CONCURRENCY > 1) rows.push(await benchPalisade(f, mode, CONCURRENCY));
  }
} finally {
  await rm(f.dir, { recursive: true, force: true });
}
console.log(`DTLS 1.2 handshakes (${SECONDS} s per row, one openssl s_client process per handshake, loopback)`);
console.log('| server | mode | concurrency | handshakes | failed | handshakes/s | server CPU ms/handshake | CPU-bound handshakes/s per core |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.server} | ${r.mode} | ${r.concurrency} | ${r.handshakes} | ${r.failed} | ${r.perSecond.toFixed(1)} | ${r.cpuMsPerHandshake.toFixed(2)} | ${(1000 / r.cpuMsPerHandshake).toFixed(0)} |`);
}
