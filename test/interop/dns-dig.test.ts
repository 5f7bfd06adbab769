/**
 * The DNS firewall with real clients (issue 6, point 7): BIND's `dig` (Debian bind9-dnsutils)
 * and Knot's `kdig` (Debian knot-dnsutils) against a real gateway over UDP, TCP and DNS over
 * HTTPS (RFC 8484, /dns-query on the HTTPS listener).
 *
 * The gateway forwards to a fake upstream run here (UDP and TCP on one port, dns-packet):
 * `*.ok.test` A 192.0.2.10 / AAAA 2001:db8::10, `big.ok.test` TXT too large for 1232 octets (so
 * the forwarder's UDP query comes back TC=1 and it must retry over TCP), `signed.ok.test` with an
 * RRSIG when the query has DO, `nx.ok.test` NXDOMAIN. A block list file holds `ads.blocked.test`
 * (hosts line) and `tracker.blocked.test` (adblock rule).
 *
 * Who asks decides the blocked answer: 127.0.0.1 maps to nothing (dns.default: NXDOMAIN),
 * 127.0.0.2 is `dns.clients` → segment lab (0.0.0.0 / ::), and the device cam-1 (segment cams:
 * REFUSED) presents its certificate over DoH from 127.0.0.3 (dig/kdig -b picks the source).
 *
 * Every answer is checked for what the client itself flagged (warnings, malformed packets, id or
 * cookie mismatches): `flagged()` must be empty. Skipped, with the reason, when dig or kdig is missing.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsQueryRecord } from '../../src/core/dns/types.ts';
import { addDevice } from '../unit/helpers/devices.ts';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { explain, killAll, runTool, type ToolResult } from './harness.ts';

function findBinary(name: string): string | null {
  for (const d of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const p = join(d, name);
    if (d !== '' && existsSync(p)) return p;
  }
  return null;
}

const DIG = findBinary('dig');
const KDIG = findBinary('kdig');
const CURL = findBinary('curl');
if (DIG === null) console.warn('skipping dig interop tests: dig not found (Debian bind9-dnsutils)');
if (KDIG === null) console.warn('skipping kdig interop tests: kdig not found (Debian knot-dnsutils)');
if (CURL === null) console.warn('skipping DoH over HTTP/1.1 tests: curl not found');

// ---------------------------------------------------------------------------------------------
// The fake upstream: UDP and TCP on one port number.

interface Seen {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  dnssecOk: boolean;
}

const TXT_CHUNKS = 20;

function optOf(p: dnsPacket.DecodedPacket): dnsPacket.OptAnswer | undefined {
  for (const a of p.additionals ?? []) if (a.type === 'OPT') return a;
  return undefined;
}

/** The upstream's answer to `raw`; over UDP, TC=1 with no records when it outgrows the query's size. */
function upstreamAnswer(raw: Buffer, transport: 'udp' | 'tcp', seen: Seen[]): Buffer | null {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(raw);
  } catch {
    return null;
  }
  const question = q.questions?.[0];
  if (question === undefined) return null;
  const opt = optOf(q);
  const dnssecOk = opt !== undefined && (opt.flags & dnsPacket.DNSSEC_OK) !== 0;
  seen.push({ name: question.name, type: question.type, transport, dnssecOk });
  const name = question.name.toLowerCase();
  const answers: dnsPacket.Answer[] = [];
  const authorities: dnsPacket.Answer[] = [];
  let rcode = 0;
  if (name === 'nx.ok.test' || !name.endsWith('.ok.test')) {
    rcode = 3;
    authorities.push({ type: 'SOA', name: 'ok.test', ttl: 60, class: 'IN', data: { mname: 'ns.ok.test', rname: 'hostmaster.ok.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } });
  } else if (name === 'big.ok.test' && question.type === 'TXT') {
    for (let i = 0; i < TXT_CHUNKS; i++) answers.push({ type: 'TXT', name: question.name, ttl: 300, class: 'IN', data: [`${String(i).padStart(2, '0')}${'x'.repeat(98)}`] });
  } else if (question.type === 'A') {
    answers.push({ type: 'A', name: question.name, ttl: 300, class: 'IN', data: '192.0.2.10' });
  } else if (question.type === 'AAAA') {
    answers.push({ type: 'AAAA', name: question.name, ttl: 300, class: 'IN', data: '2001:db8::10' });
  }
  if (name === 'signed.ok.test' && dnssecOk && answers.length > 0) {
    answers.push({
      type: 'RRSIG', name: question.name, ttl: 300, class: 'IN',
      data: { typeCovered: question.type, algorithm: 13, labels: 3, originalTTL: 300, expiration: 2_000_000_000, inception: 1_700_000_000, keyTag: 4242, signersName: 'ok.test', signature: Buffer.alloc(64, 7) },
    });
  }
  const optOut: dnsPacket.OptAnswer = { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0, flag_do: dnssecOk, options: [] };
  const base: dnsPacket.Packet = {
    type: 'response',
    id: q.id ?? 0,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: [question],
    additionals: opt === undefined ? [] : [optOut],
  };
  const full = dnsPacket.encode({ ...base, answers, authorities });
  const limit = opt === undefined ? 512 : opt.udpPayloadSize;
  if (transport === 'udp' && full.length > limit) return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] });
  return full;
}

interface FakeUpstream {
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

async function startFakeUpstream(): Promise<FakeUpstream> {
  const seen: Seen[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    udp.on('message', (m, r) => {
      const a = upstreamAnswer(m, 'udp', seen);
      if (a !== null) udp.send(a, r.port, r.address);
    });
    const port = await new Promise<number>((res) => udp.bind(0, '127.0.0.1', () => res(udp.address().port)));
    const sockets = new Set<Socket>();
    const tcp: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        // RFC 1035 §4.2.2: two-octet length, then the message.
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const a = upstreamAnswer(Buffer.from(msg), 'tcp', seen);
          if (a === null) continue;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(a.length);
          s.write(Buffer.concat([len, a]));
        }
      });
    });
    const ok = await new Promise<boolean>((res) => {
      tcp.once('error', () => res(false));
      tcp.listen(port, '127.0.0.1', () => res(true));
    });
    if (!ok) {
      await new Promise<void>((r) => udp.close(() => r()));
      continue;
    }
    return {
      port,
      seen,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
  throw new Error('fake upstream: no port free for both UDP and TCP');
}

// ---------------------------------------------------------------------------------------------
// Reading dig / kdig output.

interface DigAnswer {
  status: string;
  flags: string[];
  /** Answer-section records: [name, ttl, class, type, data]. */
  records: string[][];
  /** The OPT pseudosection line(s) (`; EDNS: version: 0, flags: do; udp: 1232` / kdig's `;; Version: 0; flags: do; UDP size: 1232 B`). */
  edns: string;
  raw: string;
}

function parseAnswer(r: ToolResult): DigAnswer {
  const out = r.stdout;
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? '';
  const flags = (/;; flags: ([^;]*);/i.exec(out)?.[1] ?? '').trim().split(/\s+/).filter((f) => f !== '');
  const lines = out.split('\n');
  const records: string[][] = [];
  let inAnswer = false;
  for (const line of lines) {
    if (/^;; ANSWER SECTION:/.test(line)) {
      inAnswer = true;
      continue;
    }
    if (inAnswer && (line.trim() === '' || line.startsWith(';;'))) {
      inAnswer = false;
      continue;
    }
    if (inAnswer) records.push(line.trim().split(/\s+/));
  }
  const edns = lines.filter((l) => /^; EDNS:|^;; Version:/.test(l)).join('\n');
  return { status, flags, records, edns, raw: out };
}

/** What the client flagged about the answer: warnings, malformed packets, mismatches, errors (not NOERROR). */
function flagged(r: ToolResult): string[] {
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /\bwarning\b|malformed|mismatch|\berror\b|unexpected|\bfailed\b/i.test(l));
}

function data(a: DigAnswer, type: string): string[] {
  return a.records.filter((x) => x[3] === type).map((x) => x.slice(4).join(' '));
}

// ---------------------------------------------------------------------------------------------

let dir = '';
let gw: TestGateway;
let upstream: FakeUpstream;
let dnsPort = 0;
let httpsPort = 0;
let caFile = '';
let certFile = '';
let keyFile = '';

async function queryLogged(name: string, want: (r: DnsQueryRecord[]) => boolean): Promise<DnsQueryRecord[]> {
  // The query-log writer commits once a second (or per 1000 records): poll, bounded.
  const end = Date.now() + 5000;
  let rows: DnsQueryRecord[] = [];
  while (Date.now() < end) {
    rows = await gw.gateway.store.dnsQueries.list({ name, limit: 100 });
    if (want(rows)) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
  // Say why: the writer reports failed inserts as events.
  const failures = (await gw.gateway.store.events.list({ type: 'dns.query_log_failed', limit: 5 })).map((e) => JSON.stringify(e.detail));
  throw new Error(`query log: no matching row for ${name} within 5 s (rows: ${JSON.stringify(rows)}; dns.query_log_failed events: ${failures.join(' | ') || 'none'})`);
}

/** One UDP query from the test itself (readiness: the block list loaded); the RCODE, -1 on timeout. */
async function rcodeOf(name: string): Promise<number> {
  const s = createSocket('udp4');
  try {
    return await new Promise<number>((resolve) => {
      const t = setTimeout(() => resolve(-1), 1000);
      s.on('message', (m) => {
        clearTimeout(t);
        resolve((dnsPacket.decode(m).flags ?? 0) & 0xf);
      });
      s.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }), dnsPort, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

beforeAll(async () => {
  if (DIG === null && KDIG === null && CURL === null) return;
  dir = await mkdtemp(join(tmpdir(), 'palisade-dns-dig-'));
  const blockFile = join(dir, 'block.txt');
  await writeFile(blockFile, '# interop block list\n0.0.0.0 ads.blocked.test\n||tracker.blocked.test^\n');
  upstream = await startFakeUpstream();
  gw = await startTestGateway({
    listeners: { dns: { host: '127.0.0.1', port: 0 } },
    dns: {
      upstreams: [{ address: '127.0.0.1', port: upstream.port, protocol: 'udp' }],
      lists: { interop: { source: blockFile, refreshSeconds: 0 } },
      default: { answer: 'nxdomain' },
      segments: { lab: { answer: 'null' }, cams: { answer: 'refused' } },
      clients: { '127.0.0.2/32': 'lab' },
    },
  });
  const dns = gw.gateway.listeners['dns'];
  if (dns === undefined) throw new Error(`the gateway runs no 'dns' listener (listeners: ${Object.keys(gw.gateway.listeners).join(', ')}): the DNS firewall is not wired into src/gateway.ts`);
  dnsPort = dns.port;
  httpsPort = gw.port('https');
  const cam = await addDevice(gw, 'cam-1', 'cams');
  caFile = join(dir, 'ca.pem');
  certFile = join(dir, 'cam-1.crt');
  keyFile = join(dir, 'cam-1.key');
  await Promise.all([writeFile(caFile, cam.ca), writeFile(certFile, cam.cert), writeFile(keyFile, cam.key, { mode: 0o600 })]);
  // The list loads after start: wait until a blocked name is answered as blocked.
  const end = Date.now() + 15_000;
  let rc = -1;
  while (Date.now() < end && (rc = await rcodeOf('ads.blocked.test')) !== 3) await new Promise((r) => setTimeout(r, 100));
  if (rc !== 3) throw new Error(`block list not in force within 15 s (ads.blocked.test answered ${rc})`);
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await killAll();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

async function dig(args: string[]): Promise<[DigAnswer, ToolResult]> {
  const r = await runTool(DIG!, ['@127.0.0.1', '-p', String(dnsPort), '+time=2', '+tries=1', ...args], { timeoutMs: 15_000 });
  expect(r.code, explain(r)).toBe(0);
  return [parseAnswer(r), r];
}

describe.skipIf(DIG === null)('dig', () => {
  it('UDP: NOERROR with the upstream address; qr rd ra; nothing flagged; logged as udp/forwarded', async () => {
    const [a, r] = await dig(['www.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(a.flags).toEqual(expect.arrayContaining(['qr', 'rd', 'ra']));
    expect(flagged(r)).toEqual([]);
    const rows = await queryLogged('www.ok.test', (x) => x.some((q) => q.transport === 'udp'));
    expect(rows.some((q) => q.transport === 'udp' && q.rcode === 0 && (q.outcome === 'forwarded' || q.outcome === 'cached')), JSON.stringify(rows)).toBe(true);
  });

  it('+tcp: the same answer over TCP, logged as tcp', async () => {
    const [a, r] = await dig(['+tcp', 'tcp.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(flagged(r)).toEqual([]);
    const rows = await queryLogged('tcp.ok.test', (x) => x.some((q) => q.transport === 'tcp'));
    expect(rows.map((q) => q.transport)).toContain('tcp');
  });

  it('+norec: answered (from the cache after a first ask), RD not set in the answer', async () => {
    await dig(['norec.ok.test', 'A']);
    const [a, r] = await dig(['+norec', 'norec.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(a.flags).not.toContain('rd');
    expect(flagged(r)).toEqual([]);
  });

  it('EDNS: +edns=0 gets an OPT with our UDP size (≤ 1232); +noedns gets none (RFC 6891 §7)', async () => {
    const [a, r] = await dig(['+edns=0', 'edns.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    const m = /; EDNS: version: 0, flags:[^;]*; udp: (\d+)/.exec(a.edns);
    expect(m, a.raw).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(1232);
    expect(flagged(r)).toEqual([]);
    const [b] = await dig(['+noedns', 'edns.ok.test', 'A']);
    expect(b.status, b.raw).toBe('NOERROR');
    expect(b.edns).toBe('');
  });

  it('+bufsize=512: a 2 KB TXT answer comes back TC=1 over UDP, and dig falls back to TCP for all 20 records', async () => {
    const [t, rt] = await dig(['+bufsize=512', '+ignore', 'big.ok.test', 'TXT']);
    expect(t.flags, t.raw).toContain('tc');
    expect(flagged(rt)).toEqual([]);
    const [a, r] = await dig(['+bufsize=512', 'big.ok.test', 'TXT']);
    expect(r.stdout).toMatch(/Truncated, retrying in TCP mode/);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'TXT')).toHaveLength(TXT_CHUNKS);
    // The forwarder met the same truncation upstream and retried over TCP.
    expect(upstream.seen.filter((s) => s.name === 'big.ok.test').map((s) => s.transport)).toEqual(expect.arrayContaining(['udp', 'tcp']));
  });

  it('ANY is REFUSED (RFC 8482 §4.2), over UDP and TCP', async () => {
    const [a, r] = await dig(['www.ok.test', 'ANY']);
    expect(a.status, a.raw).toBe('REFUSED');
    expect(a.records).toEqual([]);
    expect(flagged(r)).toEqual([]);
    const [b] = await dig(['+tcp', 'www.ok.test', 'ANY']);
    expect(b.status, b.raw).toBe('REFUSED');
    const rows = await queryLogged('www.ok.test', (x) => x.some((q) => q.outcome === 'refused'));
    expect(rows.some((q) => q.outcome === 'refused' && q.qtype === 255 && q.rcode === 5), JSON.stringify(rows)).toBe(true);
  });

  it('+dnssec: DO reaches the upstream, the RRSIG comes back and the answer\'s OPT has do', async () => {
    const [a, r] = await dig(['+dnssec', 'signed.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(a.records.map((x) => x[3])).toContain('RRSIG');
    expect(a.edns, a.raw).toMatch(/flags: do/);
    expect(upstream.seen.some((s) => s.name === 'signed.ok.test' && s.dnssecOk)).toBe(true);
    expect(flagged(r)).toEqual([]);
    // Without DO: no RRSIG (DO answers are cached apart).
    const [b] = await dig(['signed.ok.test', 'A']);
    expect(b.records.map((x) => x[3])).not.toContain('RRSIG');
  });

  it('an upstream NXDOMAIN passes through with its SOA', async () => {
    const [a, r] = await dig(['nx.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NXDOMAIN');
    expect(a.raw).toMatch(/AUTHORITY SECTION:\s*\nok\.test\.\s+\d+\s+IN\s+SOA/);
    expect(flagged(r)).toEqual([]);
  });

  it('blocked: NXDOMAIN for the default policy; 0.0.0.0 and :: from a dns.clients address (answer null); logged as blocked', async () => {
    const [a, r] = await dig(['ads.blocked.test', 'A']);
    expect(a.status, a.raw).toBe('NXDOMAIN');
    expect(flagged(r)).toEqual([]);
    const [b, rb] = await dig(['-b', '127.0.0.2', 'tracker.blocked.test', 'A']);
    expect(b.status, b.raw).toBe('NOERROR');
    expect(data(b, 'A')).toEqual(['0.0.0.0']);
    expect(flagged(rb)).toEqual([]);
    // `||tracker.blocked.test^` covers subdomains (a hosts line would not: exact names only).
    const [c] = await dig(['-b', '127.0.0.2', '+tcp', 'sub.tracker.blocked.test', 'AAAA']);
    expect(c.status, c.raw).toBe('NOERROR');
    expect(data(c, 'AAAA')).toEqual(['::']);
    expect(upstream.seen.some((s) => s.name.endsWith('blocked.test'))).toBe(false);
    const rows = await queryLogged('tracker.blocked.test', (x) => x.some((q) => q.outcome === 'blocked'));
    const hit = rows.find((q) => q.outcome === 'blocked');
    expect(hit, JSON.stringify(rows)).toMatchObject({ client: '127.0.0.2', segment: 'lab', rcode: 0, transport: 'udp', blockedBy: { list: 'interop' } });
  });
});

// ---------------------------------------------------------------------------------------------

async function kdig(args: string[], expectOk = true): Promise<[DigAnswer, ToolResult]> {
  const r = await runTool(KDIG!, ['+time=2', '+retry=0', ...args], { timeoutMs: 15_000 });
  if (expectOk) expect(r.code, explain(r)).toBe(0);
  return [parseAnswer(r), r];
}

/** The ALPN protocol the HTTPS listener picks from `offer` ('none' when it picks nothing, 'alert' when it refuses). */
async function negotiatedAlpn(offer: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ALPNProtocols: offer, rejectUnauthorized: false }, () => {
      const p = s.alpnProtocol;
      s.destroy();
      resolve(typeof p === 'string' ? p : 'none');
    });
    s.on('error', (e: Error) => resolve(`alert (${e.message})`));
    s.setTimeout(5000, () => {
      s.destroy();
      resolve('timeout');
    });
  });
}

let h2Known: boolean | null = null;
async function hasH2(): Promise<boolean> {
  h2Known ??= (await negotiatedAlpn(['h2'])) === 'h2';
  return h2Known;
}

const doh = (): string[] => ['@127.0.0.1', '-p', String(httpsPort), '+https=/dns-query', `+tls-ca=${caFile}`, '+tls-hostname=localhost'];

describe.skipIf(KDIG === null)('kdig', () => {
  it('UDP: NOERROR, the answer, nothing flagged', async () => {
    const [a, r] = await kdig(['@127.0.0.1', '-p', String(dnsPort), 'kdig-udp.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(r.stdout).toMatch(/\(UDP\)/);
    expect(flagged(r)).toEqual([]);
  });

  it('TCP: NOERROR, AAAA answer; blocked name NXDOMAIN; ANY REFUSED', async () => {
    const [a, r] = await kdig(['@127.0.0.1', '-p', String(dnsPort), '+tcp', 'kdig-tcp.ok.test', 'AAAA']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'AAAA')).toEqual(['2001:db8::10']);
    expect(r.stdout).toMatch(/\(TCP\)/);
    expect(flagged(r)).toEqual([]);
    const [b] = await kdig(['@127.0.0.1', '-p', String(dnsPort), '+tcp', 'ads.blocked.test', 'A']);
    expect(b.status, b.raw).toBe('NXDOMAIN');
    const [c] = await kdig(['@127.0.0.1', '-p', String(dnsPort), 'kdig-tcp.ok.test', 'ANY']);
    expect(c.status, c.raw).toBe('REFUSED');
  });

  it('+bufsize=512 +ignore over UDP: TC set', async () => {
    const [a] = await kdig(['@127.0.0.1', '-p', String(dnsPort), '+bufsize=512', '+ignore', 'big.ok.test', 'TXT']);
    expect(a.flags, a.raw).toContain('tc');
  });

  it('DoH needs HTTP/2: kdig (like dig) speaks DoH over h2 only (RFC 8484 §5.2: HTTP/2 the minimum recommended)', async () => {
    const alpn = await negotiatedAlpn(['h2']);
    if (alpn !== 'h2') {
      throw new Error(`the HTTPS listener does not negotiate ALPN h2 (got ${alpn}): kdig and dig cannot use /dns-query until it does; DoH over HTTP/1.1 is covered by the curl tests below`);
    }
  });

  it('DoH (POST and GET) from a dns.clients address: NOERROR, and 0.0.0.0 for a blocked name; logged as doh', async (ctx) => {
    if (!(await hasH2())) ctx.skip('no h2 on the HTTPS listener (see the test above)');
    const [a, r] = await kdig([...doh(), '-b', '127.0.0.2', 'doh.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(r.stdout).toMatch(/HTTP session \(HTTP\/2-POST\)-\(localhost\/dns-query\)-\(status: 200\)/);
    expect(flagged(r)).toEqual([]);
    const [g, rg] = await kdig([...doh(), '+https-get', '-b', '127.0.0.2', 'doh.ok.test', 'A']);
    expect(rg.stdout).toMatch(/HTTP session \(HTTP\/2-GET\)/);
    expect(g.status, g.raw).toBe('NOERROR');
    expect(data(g, 'A')).toEqual(['192.0.2.10']);
    expect(flagged(rg)).toEqual([]);
    const [b] = await kdig([...doh(), '-b', '127.0.0.2', 'ads.blocked.test', 'A']);
    expect(b.status, b.raw).toBe('NOERROR');
    expect(data(b, 'A')).toEqual(['0.0.0.0']);
    const rows = await queryLogged('doh.ok.test', (x) => x.filter((q) => q.transport === 'doh').length >= 2);
    expect(rows.filter((q) => q.transport === 'doh' && q.client === '127.0.0.2').length, JSON.stringify(rows)).toBeGreaterThanOrEqual(2);
  });

  it('DoH with a device certificate: the device\'s segment policy (cams: blocked → REFUSED), logged with its id', async (ctx) => {
    if (!(await hasH2())) ctx.skip('no h2 on the HTTPS listener (see the test above)');
    const mine = [...doh(), '-b', '127.0.0.3', `+tls-certfile=${certFile}`, `+tls-keyfile=${keyFile}`];
    const [a, r] = await kdig([...mine, 'cam.ok.test', 'A']);
    expect(a.status, a.raw).toBe('NOERROR');
    expect(data(a, 'A')).toEqual(['192.0.2.10']);
    expect(flagged(r)).toEqual([]);
    const [b] = await kdig([...mine, 'tracker.blocked.test', 'A']);
    expect(b.status, b.raw).toBe('REFUSED');
    const rows = await queryLogged('cam.ok.test', (x) => x.some((q) => q.deviceId === 'cam-1'));
    expect(rows.find((q) => q.transport === 'doh'), JSON.stringify(rows)).toMatchObject({ deviceId: 'cam-1', segment: 'cams' });
  });

  it('DoH from an unknown address without credentials gets no answer (401: not an open resolver)', async (ctx) => {
    if (!(await hasH2())) ctx.skip('no h2 on the HTTPS listener (see the test above)');
    const [a, r] = await kdig([...doh(), '-b', '127.0.0.4', 'open.ok.test', 'A'], false);
    expect(a.status, `${r.stdout}\n${r.stderr}`).toBe('');
    expect(upstream.seen.some((s) => s.name === 'open.ok.test')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// DoH over HTTP/1.1 with curl (RFC 8484 §4.1: POST application/dns-message, id 0): the policy and
// query-log checks of the kdig DoH tests, runnable whatever HTTP version the listener speaks.

let dohSeq = 0;

async function curlDoh(name: string, type: 'A' | 'AAAA', extra: string[]): Promise<{ status: number; answer: dnsPacket.DecodedPacket | null }> {
  const n = dohSeq++;
  const qFile = join(dir, `doh-q-${n}.bin`);
  const aFile = join(dir, `doh-a-${n}.bin`);
  await writeFile(qFile, dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }));
  const r = await runTool(CURL!, [
    '-sS', '--http1.1', '--cacert', caFile, '--resolve', `localhost:${httpsPort}:127.0.0.1`,
    '-H', 'content-type: application/dns-message', '-H', 'accept: application/dns-message',
    '--data-binary', `@${qFile}`, '-o', aFile, '-w', '%{http_code}', ...extra, `https://localhost:${httpsPort}/dns-query`,
  ], { timeoutMs: 15_000 });
  expect(r.code, explain(r)).toBe(0);
  const status = Number(r.stdout.trim());
  if (status !== 200) return { status, answer: null };
  return { status, answer: dnsPacket.decode(await readFile(aFile)) };
}

function rcode(p: dnsPacket.DecodedPacket | null): number {
  return (p?.flags ?? -1) & 0xf;
}

function addressesOf(p: dnsPacket.DecodedPacket | null): string[] {
  return (p?.answers ?? []).flatMap((x) => (x.type === 'A' || x.type === 'AAAA' ? [x.data] : []));
}

describe.skipIf(CURL === null)('DoH over HTTP/1.1 (curl)', () => {
  it('from a dns.clients address: NOERROR with the upstream address, 0.0.0.0 for a blocked name; logged as doh', async () => {
    const ok = await curlDoh('doh.ok.test', 'A', ['--interface', '127.0.0.2']);
    expect(ok.status).toBe(200);
    expect(rcode(ok.answer)).toBe(0);
    expect(addressesOf(ok.answer)).toEqual(['192.0.2.10']);
    const blocked = await curlDoh('ads.blocked.test', 'A', ['--interface', '127.0.0.2']);
    expect(rcode(blocked.answer)).toBe(0);
    expect(addressesOf(blocked.answer)).toEqual(['0.0.0.0']);
    const rows = await queryLogged('doh.ok.test', (x) => x.some((q) => q.transport === 'doh'));
    expect(rows.find((q) => q.transport === 'doh'), JSON.stringify(rows)).toMatchObject({ client: '127.0.0.2', segment: 'lab', rcode: 0 });
  });

  it('with a device certificate: the device\'s segment policy (cams: blocked → REFUSED), logged with its id', async () => {
    const mine = ['--interface', '127.0.0.3', '--cert', certFile, '--key', keyFile];
    const ok = await curlDoh('cam.ok.test', 'A', mine);
    expect(ok.status).toBe(200);
    expect(addressesOf(ok.answer)).toEqual(['192.0.2.10']);
    const blocked = await curlDoh('tracker.blocked.test', 'A', mine);
    expect(blocked.status).toBe(200);
    expect(rcode(blocked.answer)).toBe(5);
    const rows = await queryLogged('cam.ok.test', (x) => x.some((q) => q.deviceId === 'cam-1'));
    expect(rows.find((q) => q.transport === 'doh'), JSON.stringify(rows)).toMatchObject({ deviceId: 'cam-1', segment: 'cams' });
  });

  it('from an unknown address without credentials: 401, and nothing reaches the upstream (not an open resolver)', async () => {
    const r = await curlDoh('open.ok.test', 'A', ['--interface', '127.0.0.4']);
    expect(r.status).toBe(401);
    expect(upstream.seen.some((s) => s.name === 'open.ok.test')).toBe(false);
  });
});
