/**
 * Fixtures for the DTLS interop tests: Palisade's own PKI (root + issuing CA, a P-256 server
 * certificate, device certificates) written to files for openssl and libcoap, a DtlsServer on
 * an ephemeral loopback port with a tiny application (echo for lines starting "PING ", a fixed
 * CoAP 2.05 answer for anything else, so libcoap's clients get a response), and a bounded
 * runner for external peers.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainPem, createCertificateAuthority, issueDeviceCertificate, issueServerCertificate } from '../../src/core/pki/index.ts';
import { DtlsServer, type DtlsServerOptions, type DtlsSession } from '../../src/protocols/dtls/index.ts';

export interface DtlsWorld {
  dir: string;
  caPath: string;
  device: (name: string) => { cert: string; key: string; serial: string };
  foreign: { cert: string; key: string };
  serverPem: { certPem: string; keyPem: string; caPem: string };
}

export async function dtlsWorld(deviceIds: string[]): Promise<DtlsWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-dtls-'));
  const ca = await createCertificateAuthority({ name: 'DtlsTest' });
  const server = await issueServerCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
  const caPath = join(dir, 'ca.pem');
  await writeFile(caPath, chainPem(ca));
  const devices = new Map<string, { cert: string; key: string; serial: string }>();
  for (const id of deviceIds) {
    const issued = await issueDeviceCertificate(ca, { deviceId: id, segment: 'default' });
    const cert = join(dir, `${id}.pem`);
    const key = join(dir, `${id}.key`);
    await writeFile(cert, issued.certPem);
    await writeFile(key, issued.keyPem, { mode: 0o600 });
    devices.set(id, { cert, key, serial: issued.serial });
  }
  const mallory = await createCertificateAuthority({ name: 'Mallory' });
  const forged = await issueDeviceCertificate(mallory, { deviceId: deviceIds[0]!, segment: 'default' });
  const foreign = { cert: join(dir, 'forged.pem'), key: join(dir, 'forged.key') };
  await writeFile(foreign.cert, forged.certPem);
  await writeFile(foreign.key, forged.keyPem, { mode: 0o600 });
  return {
    dir,
    caPath,
    device: (name) => devices.get(name)!,
    foreign,
    serverPem: { certPem: server.certPem, keyPem: server.keyPem, caPem: chainPem(ca) },
  };
}

export interface RecordedEvent {
  type: string;
  principal: string | null;
  detail: Record<string, unknown>;
}

export interface RunningServer {
  server: DtlsServer;
  socket: Socket;
  port: number;
  events: RecordedEvent[];
  sessions: DtlsSession[];
  close(): Promise<void>;
}

export const COAP_PAYLOAD = 'palisade-dtls-ok';

/** Answers a CoAP CON/NON request with 2.05 Content (piggybacked ACK for CON); enough for a libcoap client to print a payload. */
function coapAnswer(req: Buffer): Buffer | null {
  if (req.length < 4 || req[0]! >> 6 !== 1) return null;
  const type = (req[0]! >> 4) & 3;
  const tkl = req[0]! & 0x0f;
  if (type > 1 || tkl > 8 || req.length < 4 + tkl || req[1] === 0) return null;
  const header = Buffer.from([0x40 | ((type === 0 ? 2 : 1) << 4) | tkl, 0x45, req[2]!, req[3]!]);
  return Buffer.concat([header, req.subarray(4, 4 + tkl), Buffer.from([0xff]), Buffer.from(COAP_PAYLOAD)]);
}

export async function startDtlsServer(opts: Omit<DtlsServerOptions, 'socket' | 'events'>): Promise<RunningServer> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const events: RecordedEvent[] = [];
  const sessions: DtlsSession[] = [];
  const server = new DtlsServer({
    ...opts,
    socket,
    events: { record: (type, _severity, ctx) => events.push({ type, principal: ctx?.principal ?? null, detail: ctx?.detail ?? {} }) },
  });
  server.on('session', (s) => {
    sessions.push(s);
    s.onData((data) => {
      if (data.subarray(0, 5).toString() === 'PING ') {
        s.send(data);
        return;
      }
      const answer = coapAnswer(data);
      if (answer !== null) s.send(answer);
    });
  });
  return {
    server,
    socket,
    port: socket.address().port,
    events,
    sessions,
    close: async () => {
      server.close();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

export interface PeerResult {
  stdout: string;
  stderr: string;
  code: number | null;
  matched: boolean;
}

/**
 * Runs a peer, optionally writing `input` to its stdin, until `until` matches stdout (then it is
 * killed) or it exits, or timeoutMs passes. Never hangs a test.
 */
export function runPeer(cmd: string, args: string[], opts: { input?: string; until?: RegExp; timeoutMs?: number; keepStdinOpen?: boolean } = {}): Promise<PeerResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let matched = false;
    const finish = (code: number | null): void => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, matched });
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.until !== undefined && !matched && opts.until.test(stdout)) {
        matched = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => finish(code));
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.write(opts.input);
    if (opts.keepStdinOpen !== true) child.stdin.end();
  });
}

export function opensslPsk(port: number, identity: string, pskHex: string, cipher: string, extra: string[] = []): string[] {
  return ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk_identity', identity, '-psk', pskHex, '-cipher', cipher, '-quiet', ...extra];
}

export function opensslCert(port: number, caPath: string, cert: string | null, key: string | null, cipher: string, extra: string[] = []): string[] {
  return ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-CAfile', caPath, '-verify_return_error', '-cipher', cipher, ...(cert !== null && key !== null ? ['-cert', cert, '-key', key] : []), '-quiet', ...extra];
}
