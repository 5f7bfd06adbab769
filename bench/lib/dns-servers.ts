/**
 * The reference DNS servers of the DNS benchmark (bench/dns-bench.ts), each a child process on
 * 127.0.0.1 with a temporary config: dnsmasq as the shared upstream authority for `bench.test`,
 * dnsmasq as a forwarding cache with a Pi-hole style block list (addn-hosts of `0.0.0.0 name`),
 * and Unbound as a forwarding cache with `local-zone: "name." always_null` block lines.
 * Also: a free-port picker and a readiness probe (a real query over UDP until it is answered).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';

export interface DnsServerProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** The pid whose /proc/PID/stat is the server's CPU (the child itself: no daemonising). */
  readonly pid: number;
  /** The exact command line, for the report. */
  readonly command: string;
  stderr(): string;
}

/** A port free for both UDP and TCP on 127.0.0.1 right now (a short race with other binders). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (ok) {
      await new Promise<void>((r) => tcp.close(() => r()));
      return port;
    }
  }
  throw new Error('no free UDP+TCP port on 127.0.0.1 after 20 tries');
}

// dnsmasq's long options with optional arguments (--cache-size, --pid-file) need the `=` form.
function launch(name: string, cmd: string, argv: string[], port: number): DnsServerProcess {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 8192) err += d.toString();
  });
  if (child.pid === undefined) throw new Error(`${name}: ${cmd} did not start`);
  return { name, port, child, pid: child.pid, command: [cmd, ...argv].join(' '), stderr: () => err };
}

/** The shared upstream: dnsmasq authoritative-ish for bench.test (every name → 192.0.2.1, TTL 3600). */
export function startUpstream(port: number): DnsServerProcess {
  return launch('upstream', 'dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--no-resolv', '--no-hosts', '--address=/bench.test/192.0.2.1', '--local-ttl=3600',
  ], port);
}

/** dnsmasq as a forwarding cache; blocking as Pi-hole does it, an addn-hosts file of `0.0.0.0 name`. */
export function startDnsmasq(port: number, upstreamPort: number, hostsFile: string): DnsServerProcess {
  return launch('dnsmasq', 'dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--no-resolv', '--no-hosts', `--server=127.0.0.1#${upstreamPort}`, '--cache-size=10000',
    `--addn-hosts=${hostsFile}`,
  ], port);
}

/**
 * Unbound as a forwarding cache (iterator only: no DNSSEC validation, like the other two).
 * `threads` 1 is the fair single-core comparison (dnsmasq and Palisade's event loop are one thread).
 */
export function startUnbound(dir: string, port: number, upstreamPort: number, blockedNames: readonly string[], threads: number): DnsServerProcess {
  const conf = path.join(dir, `unbound-${threads}t.conf`);
  const lines = [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    `  port: ${port}`,
    `  num-threads: ${threads}`,
    '  do-daemonize: no',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${path.join(dir, `unbound-${threads}t.pid`)}"`,
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  do-ip6: no',
    '  do-not-query-localhost: no',
    '  module-config: "iterator"',
    '  access-control: 127.0.0.0/8 allow',
    '  msg-cache-size: 64m',
    '  rrset-cache-size: 128m',
    '  ratelimit: 0',
    '  ip-ratelimit: 0',
    '  qname-minimisation: no',
    // Unbound serves test. itself (RFC 6761 default zones); bench.test must be forwarded.
    '  local-zone: "test." nodefault',
    ...blockedNames.map((n) => `  local-zone: "${n}." always_null`),
    'forward-zone:',
    '  name: "."',
    `  forward-addr: 127.0.0.1@${upstreamPort}`,
    'remote-control:',
    '  control-enable: no',
    '',
  ];
  writeFileSync(conf, lines.join('\n'));
  return launch(threads === 1 ? 'unbound' : `unbound-${threads}t`, 'unbound', ['-d', '-c', conf], port);
}

/** Sends one query over UDP; resolves with the decoded answer, or null after `timeoutMs`. */
export async function queryUdp(port: number, name: string, type: dnsPacket.RecordType = 'A', timeoutMs = 500): Promise<dnsPacket.DecodedPacket | null> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<dnsPacket.DecodedPacket | null>((resolve) => {
      const id = Math.floor(Math.random() * 65_536);
      const timer = setTimeout(() => resolve(null), timeoutMs);
      sock.on('message', (m) => {
        try {
          const p = dnsPacket.decode(m);
          if (p.id !== id) return;
          clearTimeout(timer);
          resolve(p);
        } catch {
          // not a DNS answer; wait for the real one
        }
      });
      sock.on('error', () => undefined);
      sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/** The first A record's address in an answer ('' when none). */
export function firstA(p: dnsPacket.DecodedPacket | null): string {
  for (const a of p?.answers ?? []) if (a.type === 'A') return a.data;
  return '';
}

/**
 * Waits until `port` answers `probe` with `expect` (an A address) — for a resolver, also until its
 * block list is loaded (`blockedProbe` answered 0.0.0.0). Throws with the server's stderr on timeout.
 */
export async function waitReady(server: { name: string; port: number; child?: ChildProcess; stderr?: () => string }, probe: string, expect: string, blockedProbe: string | null, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    if (server.child !== undefined && server.child.exitCode !== null) break;
    const a = firstA(await queryUdp(server.port, probe));
    const b = blockedProbe === null ? '0.0.0.0' : firstA(await queryUdp(server.port, blockedProbe));
    last = `${probe} → ${a || 'nothing'}, ${blockedProbe ?? '-'} → ${b || 'nothing'}`;
    if (a === expect && b === '0.0.0.0') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${server.name} on port ${server.port} not ready (${last}); exit ${server.child?.exitCode ?? 'running'}; stderr: ${server.stderr?.() ?? ''}`);
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
