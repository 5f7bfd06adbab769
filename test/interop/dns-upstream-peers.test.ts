/**
 * The DNS forwarder against real resolvers as upstreams (issue 6, point 1): dnsmasq and Unbound
 * on loopback, over UDP, TCP and (Unbound) DNS over TLS. dnsmasq serves a name with 60 A records
 * from a hosts file so its UDP answer without EDNS is truncated (TC=1) and the forwarder must
 * retry over TCP; dnsmasq with no upstream answers REFUSED for other names, so failover to the
 * next upstream is exercised with a real REFUSED. Unbound's `local-zone: "." refuse` keeps every
 * query on loopback. Skipped, with the reason, when a binary is missing.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsUpstreamConfig } from '../../src/config/dns.ts';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { chainPem, createCertificateAuthority, issueServerCertificate } from '../../src/core/pki/index.ts';
import { createUpstream, type Upstream } from '../../src/protocols/dns/upstream/index.ts';
import { killAll, startTool, type ToolProcess } from './harness.ts';

function findBinary(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, name);
    if (d !== '' && existsSync(p)) return p;
  }
  return null;
}

/** A port free for both UDP and TCP on 127.0.0.1 (the resolvers need one number for both). */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((r) => udp.bind(0, '127.0.0.1', () => r(udp.address().port)));
    const tcp = createServer();
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (ok) {
      await new Promise<void>((r) => tcp.close(() => r()));
      return port;
    }
  }
  throw new Error('no free port for UDP and TCP');
}

function query(name: string, id: number): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });
}

function addresses(msg: Buffer): string[] {
  return (dnsPacket.decode(msg).answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : []));
}

const upstreams: Upstream[] = [];
function upstream(configs: Partial<DnsUpstreamConfig>[], timeoutMs = 2000): Upstream {
  const u = createUpstream({
    upstreams: configs.map((c) => ({ address: '127.0.0.1', port: null, protocol: 'udp' as const, tlsServerName: null, tlsCaFile: null, ...c })),
    timeoutMs,
  });
  upstreams.push(u);
  return u;
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-dns-peers-'));
  // dnsmasq started as root reads its hosts file after dropping to `nobody`.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  for (const u of upstreams) await u.close();
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

const dnsmasq = findBinary('dnsmasq');
if (dnsmasq === null) console.warn('skipping dnsmasq upstream tests: dnsmasq not found (Debian dnsmasq-base)');
describe.skipIf(dnsmasq === null)('dnsmasq as upstream', () => {
  let port = 0;
  let proc: ToolProcess;
  beforeAll(async () => {
    port = await freePort();
    const hosts = join(dir, 'dnsmasq.hosts');
    await writeFile(hosts, Array.from({ length: 60 }, (_, i) => `10.1.0.${i + 1} big.hosts.test`).join('\n') + '\n', { mode: 0o644 });
    proc = startTool(dnsmasq!, [
      // -k, not -d: in debug mode (--no-daemon) dnsmasq serves TCP in its one process and a kept-open
      // connection (RFC 7766 §6.2.1) would block its UDP service.
      '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts',
      `--addn-hosts=${hosts}`, '--address=/x.test/1.2.3.4', '--pid-file=', '--log-facility=-', '--cache-size=0',
    ], { timeoutMs: 300_000 });
    await proc.waitForOutput(/started, version/, 10_000);
  });

  it('answers over UDP with the caller\u2019s id', async () => {
    const out = await upstream([{ port }]).forward(query('a.x.test', 0x0a0a));
    expect(dnsPacket.decode(out).id).toBe(0x0a0a);
    expect(addresses(out)).toEqual(['1.2.3.4']);
  });

  it('answers over TCP, 50 pipelined queries on one connection', async () => {
    const u = upstream([{ port, protocol: 'tcp' }]);
    const out = await Promise.all(Array.from({ length: 50 }, (_, i) => u.forward(query(`n${i}.x.test`, i))));
    out.forEach((m, i) => {
      expect(dnsPacket.decode(m).id).toBe(i);
      expect(addresses(m)).toEqual(['1.2.3.4']);
    });
  });

  it('a truncated UDP answer (TC=1) is retried over TCP and comes back whole', async () => {
    const out = await upstream([{ port }]).forward(query('big.hosts.test', 77)).catch((err: unknown) => {
      throw new Error(`forward failed: ${JSON.stringify((err as { detail?: unknown }).detail)}\ndnsmasq: ${proc.stderr}`);
    });
    const p = dnsPacket.decode(out);
    expect(p.flag_tc).toBe(false);
    expect(addresses(out)).toHaveLength(60);
  });

  it('REFUSED from dnsmasq (a name it has no upstream for) fails over to the next upstream', async () => {
    const dead = await freePort();
    const u = upstream([{ port }, { port: dead }], 300);
    const err = await u.forward(query('elsewhere.example', 1)).then(() => null, (e: unknown) => e);
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect((err as { detail: { attempts: { reason: string }[] } }).detail.attempts[0]!.reason).toBe('REFUSED');
  });
});

const unbound = findBinary('unbound');
if (unbound === null) console.warn('skipping Unbound upstream tests: unbound not found (Debian unbound)');
describe.skipIf(unbound === null)('Unbound as upstream', () => {
  let port = 0;
  let tlsPort = 0;
  let caFile = '';
  let proc: ToolProcess;
  beforeAll(async () => {
    port = await freePort();
    tlsPort = await freePort();
    const ca = await createCertificateAuthority({ name: 'Unbound DoT test CA' });
    const leaf = await issueServerCertificate(ca, { hosts: ['dns.test', '127.0.0.1'] });
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, chainPem(ca));
    await writeFile(join(dir, 'unbound.key'), leaf.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'unbound.pem'), leaf.certPem + ca.issuing.certPem);
    const conf = join(dir, 'unbound.conf');
    await writeFile(conf, [
      'server:',
      `  interface: 127.0.0.1@${port}`,
      `  interface: 127.0.0.1@${tlsPort}`,
      `  tls-port: ${tlsPort}`,
      `  tls-service-key: "${join(dir, 'unbound.key')}"`,
      `  tls-service-pem: "${join(dir, 'unbound.pem')}"`,
      '  do-daemonize: no',
      '  chroot: ""',
      '  username: ""',
      `  directory: "${dir}"`,
      '  pidfile: ""',
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 1',
      '  do-ip6: no',
      '  num-threads: 1',
      '  module-config: "iterator"',
      '  access-control: 127.0.0.0/8 allow',
      // Nothing leaves loopback: every other name is refused, not recursed.
      '  local-zone: "." refuse',
      '  local-zone: "x.test." static',
      '  local-data: "a.x.test. 300 IN A 5.6.7.8"',
      '  local-data: "b.x.test. 300 IN A 5.6.7.9"',
      'remote-control:',
      '  control-enable: no',
      '',
    ].join('\n'));
    proc = startTool(unbound!, ['-d', '-c', conf], { timeoutMs: 300_000 });
    await proc.waitForOutput(/start of service/, 10_000);
  });

  it('answers over UDP and over TCP', async () => {
    expect(addresses(await upstream([{ port }]).forward(query('a.x.test', 3)))).toEqual(['5.6.7.8']);
    expect(addresses(await upstream([{ port, protocol: 'tcp' }]).forward(query('b.x.test', 4)))).toEqual(['5.6.7.9']);
  });

  it('answers over DNS over TLS, verified against the CA and the name, pipelined', async () => {
    const u = upstream([{ port: tlsPort, protocol: 'tls', tlsServerName: 'dns.test', tlsCaFile: caFile }]);
    const out = await Promise.all(Array.from({ length: 30 }, (_, i) => u.forward(query(i % 2 ? 'a.x.test' : 'b.x.test', i))));
    out.forEach((m, i) => expect(addresses(m)).toEqual([i % 2 ? '5.6.7.8' : '5.6.7.9']));
  });

  it('DoT with a wrong name fails instead of falling back; failover reaches Unbound over UDP', async () => {
    const wrong = upstream([{ port: tlsPort, protocol: 'tls', tlsServerName: 'wrong.test', tlsCaFile: caFile }]);
    const err = await wrong.forward(query('a.x.test', 5)).then(() => null, (e: unknown) => e);
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    const failover = upstream([{ port: tlsPort, protocol: 'tls', tlsServerName: 'wrong.test', tlsCaFile: caFile }, { port }]);
    expect(addresses(await failover.forward(query('a.x.test', 6)))).toEqual(['5.6.7.8']);
  });

  it('REFUSED from Unbound (outside its zones) is a failure, and NXDOMAIN inside one is an answer', async () => {
    const u = upstream([{ port }]);
    const err = await u.forward(query('example.com', 7)).then(() => null, (e: unknown) => e);
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    // RCODE 3, NXDOMAIN (RFC 1035 §4.1.1).
    expect((await u.forward(query('none.x.test', 8)))[3]! & 0x0f).toBe(3);
  });
});
