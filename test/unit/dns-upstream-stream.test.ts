/**
 * The DNS forwarder over TCP (RFC 7766) and DNS over TLS (RFC 7858) against fake upstreams on
 * loopback: TC=1 over UDP is retried over TCP, 50 concurrent queries share one pipelined
 * connection answered out of order, the connection is reopened after the server closes it and
 * closed when idle, and DoT verifies the certificate (right CA and name work; a wrong name or a
 * wrong CA fail, with no fallback to plaintext).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DnsUpstreamConfig } from '../../src/config/dns.ts';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { chainPem, createCertificateAuthority, issueServerCertificate } from '../../src/core/pki/index.ts';
import { createUpstream, type Upstream } from '../../src/protocols/dns/upstream/index.ts';
import { answer, decoded, query, startFakeStream, startFakeUdp, type FakeQuery, type ReplyContext } from './helpers/dns-upstream-fakes.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function upstream(configs: Partial<DnsUpstreamConfig>[], timeoutMs = 2000, idleMs?: number): Upstream & { events: string[] } {
  const events: string[] = [];
  const u = createUpstream({
    upstreams: configs.map((c) => ({ address: '127.0.0.1', port: null, protocol: 'udp' as const, tlsServerName: null, tlsCaFile: null, ...c })),
    timeoutMs,
    ...(idleMs !== undefined ? { idleMs } : {}),
    events: { record: (type) => events.push(type) },
  });
  cleanups.push(() => u.close());
  return Object.assign(u, { events });
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; detail?: { attempts: { reason: string }[] } }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a rejection');
}

async function stream(handler: (q: FakeQuery, ctx: ReplyContext) => void, tls?: { key: string; cert: string }) {
  const s = await startFakeStream(handler, tls ? { tls } : {});
  cleanups.push(() => s.close());
  return s;
}

describe('DNS forwarder over TCP', () => {
  it('retries over TCP when the UDP answer has TC=1, on the same address and port', async () => {
    // Same port number for the UDP and the TCP fake: bind UDP first, then TCP on its port.
    const udp = await startFakeUdp((q, ctx) => ctx.send(answer(q, { tc: true })));
    cleanups.push(() => udp.close());
    const { createServer } = await import('node:net');
    const tcpQueries: number[] = [];
    const server = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        const raw = d.subarray(2);
        const q = decoded(raw);
        tcpQueries.push(q.id ?? -1);
        const a = answer({ id: q.id ?? 0, name: q.questions![0]!.name, type: 'A', raw, address: '', port: 0, connection: 0 }, { address: '203.0.113.80' });
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        sock.write(Buffer.concat([len, a]));
      });
    });
    await new Promise<void>((r) => server.listen(udp.port, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const u = upstream([{ port: udp.port }]);
    const p = decoded(await u.forward(query('big.example', 0xbeef)));
    expect(p.id).toBe(0xbeef);
    expect(p.flag_tc).toBe(false);
    expect(p.answers?.[0]).toMatchObject({ data: '203.0.113.80' });
    expect(udp.queries).toHaveLength(1);
    expect(tcpQueries).toHaveLength(1);
    await u.close();
  });

  it('pipelines 50 concurrent queries on one connection, with distinct ids, answered out of order', async () => {
    const held: { q: FakeQuery; ctx: ReplyContext }[] = [];
    const s = await stream((q, ctx) => {
      held.push({ q, ctx });
      // Answer all at once in reverse order once the 50th has arrived.
      if (held.length === 50) for (const h of held.reverse()) h.ctx.send(answer(h.q, { address: `10.0.0.${Number(h.q.name.split('.')[0]!.slice(1))}` }));
    });
    const u = upstream([{ protocol: 'tcp', port: s.port }]);
    const names = Array.from({ length: 50 }, (_, i) => `q${i}.example`);
    const out = await Promise.all(names.map((n, i) => u.forward(query(n, 1000 + i))));
    out.forEach((msg, i) => {
      const p = decoded(msg);
      expect(p.id).toBe(1000 + i);
      expect(p.answers?.[0]).toMatchObject({ name: names[i], data: `10.0.0.${i}` });
    });
    expect(s.connections).toBe(1);
    expect(new Set(s.queries.map((q) => q.id)).size).toBe(50);
  });

  it('drops an answer whose question does not match, keeps waiting for the right one', async () => {
    const s = await stream((q, ctx) => {
      ctx.send(answer(q, { name: 'other.example', address: '6.6.6.6' }));
      setTimeout(() => ctx.send(answer(q, { address: '192.0.2.50' })), 20);
    });
    const u = upstream([{ protocol: 'tcp', port: s.port }]);
    expect(decoded(await u.forward(query('right.example'))).answers?.[0]).toMatchObject({ data: '192.0.2.50' });
    expect(u.stats().mismatched).toBe(1);
  });

  it('a late answer over TCP after the timeout is dropped quietly; an unknown id counts as a mismatch', async () => {
    const s = await stream((q, ctx) => {
      if (q.name === 'slow.example') setTimeout(() => ctx.send(answer(q)), 150);
      else {
        ctx.send(answer(q, { id: (q.id + 1) & 0xffff }));
        ctx.send(answer(q));
      }
    });
    const u = upstream([{ protocol: 'tcp', port: s.port }], 60);
    expect((await failure(u.forward(query('slow.example')))).code).toBe(ErrorCodes.UPSTREAM_FAILED);
    await new Promise((r) => setTimeout(r, 200));
    expect(u.stats().mismatched).toBe(0);
    await u.forward(query('fast.example'));
    expect(u.stats().mismatched).toBe(1);
  });

  it('reopens the connection after the server closes it, and closes it when idle', async () => {
    const s = await stream((q, ctx) => ctx.send(answer(q)));
    const u = upstream([{ protocol: 'tcp', port: s.port }], 2000, 150);
    await u.forward(query('one.example'));
    for (const sock of s.sockets) sock.destroy();
    await new Promise((r) => setTimeout(r, 30));
    await u.forward(query('two.example'));
    expect(s.connections).toBe(2);
    expect(s.sockets.size).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(s.sockets.size).toBe(0);
    await u.forward(query('three.example'));
    expect(s.connections).toBe(3);
  });

  it('re-sends a query once when the connection closes under it', async () => {
    let first = true;
    const s = await stream((q, ctx) => {
      if (first) {
        first = false;
        for (const sock of s.sockets) sock.destroy();
        return;
      }
      ctx.send(answer(q, { address: '192.0.2.77' }));
    });
    const u = upstream([{ protocol: 'tcp', port: s.port }]);
    expect(decoded(await u.forward(query('again.example'))).answers?.[0]).toMatchObject({ data: '192.0.2.77' });
    expect(s.queries).toHaveLength(2);
  });

  it('a compression-loop answer over TCP fails the attempt without hanging; the next upstream answers', async () => {
    const loop = await stream((q, ctx) => {
      const bad = Buffer.from(answer(q));
      const at = q.raw.length;
      bad[at] = 0xc0 | (at >> 8);
      bad[at + 1] = at & 0xff;
      ctx.send(bad);
    });
    const good = await stream((q, ctx) => ctx.send(answer(q, { address: '192.0.2.10' })));
    const u = upstream([{ protocol: 'tcp', port: loop.port }, { protocol: 'tcp', port: good.port }], 5000);
    const t0 = Date.now();
    expect(decoded(await u.forward(query('loop.example'))).answers?.[0]).toMatchObject({ data: '192.0.2.10' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('fails over when the TCP upstream refuses connections', async () => {
    const s = await stream(() => undefined);
    const port = s.port;
    await s.close();
    const good = await startFakeUdp((q, ctx) => ctx.send(answer(q)));
    cleanups.push(() => good.close());
    const u = upstream([{ protocol: 'tcp', port }, { port: good.port }], 5000);
    const t0 = Date.now();
    await u.forward(query('x.example'));
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('DNS over TLS', () => {
  let dir = '';
  let caFile = '';
  let otherCaFile = '';
  let tls: { key: string; cert: string };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-dot-'));
    const ca = await createCertificateAuthority({ name: 'DoT test CA' });
    const other = await createCertificateAuthority({ name: 'Unrelated CA' });
    const leaf = await issueServerCertificate(ca, { hosts: ['dns.test', '127.0.0.1'] });
    tls = { key: leaf.keyPem, cert: leaf.certPem + ca.issuing.certPem };
    caFile = join(dir, 'ca.pem');
    otherCaFile = join(dir, 'other.pem');
    await writeFile(caFile, chainPem(ca));
    await writeFile(otherCaFile, chainPem(other));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves over TLS when the certificate verifies against the CA file and the name', async () => {
    const s = await stream((q, ctx) => ctx.send(answer(q, { address: '192.0.2.53' })), tls);
    const byName = upstream([{ protocol: 'tls', port: s.port, tlsServerName: 'dns.test', tlsCaFile: caFile }]);
    expect(decoded(await byName.forward(query('dot.example', 5))).answers?.[0]).toMatchObject({ data: '192.0.2.53' });
    // No name: the certificate's IP SAN must match the address.
    const byAddress = upstream([{ protocol: 'tls', port: s.port, tlsCaFile: caFile }]);
    expect(decoded(await byAddress.forward(query('dot.example', 6))).id).toBe(6);
    // Pipelined inside TLS as well.
    await Promise.all(Array.from({ length: 20 }, (_, i) => byName.forward(query(`p${i}.example`))));
    expect(s.connections).toBe(2);
  });

  it('resumes the TLS session when it reconnects (RFC 7858 \u00a73.4)', async () => {
    const s = await stream((q, ctx) => ctx.send(answer(q)), tls);
    const u = upstream([{ protocol: 'tls', port: s.port, tlsServerName: 'dns.test', tlsCaFile: caFile }]);
    await u.forward(query('one.example'));
    for (const sock of s.sockets) sock.destroy();
    await new Promise((r) => setTimeout(r, 30));
    await u.forward(query('two.example'));
    expect(s.resumed).toEqual([false, true]);
  });

  it('fails (no plaintext fallback) with a wrong server name', async () => {
    const s = await stream((q, ctx) => ctx.send(answer(q)), tls);
    const u = upstream([{ protocol: 'tls', port: s.port, tlsServerName: 'not-the-server.test', tlsCaFile: caFile }]);
    const err = await failure(u.forward(query('dot.example')));
    expect(isPalisadeError(err, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(err.detail?.attempts[0]?.reason).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(s.queries).toHaveLength(0);
    expect(u.events).toContain('dns.upstream.tls_failed');
  });

  it('fails with a CA that did not sign the certificate, and with the system CAs', async () => {
    const s = await stream((q, ctx) => ctx.send(answer(q)), tls);
    const wrongCa = upstream([{ protocol: 'tls', port: s.port, tlsServerName: 'dns.test', tlsCaFile: otherCaFile }]);
    const err = await failure(wrongCa.forward(query('dot.example')));
    expect(err.detail?.attempts[0]?.reason).toMatch(/UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/);
    const systemCas = upstream([{ protocol: 'tls', port: s.port, tlsServerName: 'dns.test' }]);
    const err2 = await failure(systemCas.forward(query('dot.example')));
    expect(isPalisadeError(err2, ErrorCodes.UPSTREAM_FAILED)).toBe(true);
    expect(s.queries).toHaveLength(0);
  });

  it('a handshake that never completes fails the attempt at its timeout and the next query starts afresh', async () => {
    const { createServer } = await import('node:net');
    let accepted = 0;
    const held = new Set<import('node:net').Socket>();
    const silent = createServer((sock) => {
      accepted++;
      held.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => {
      for (const h of held) h.destroy();
      return new Promise((r) => silent.close(() => r()));
    });
    const port = (silent.address() as { port: number }).port;
    const u = upstream([{ protocol: 'tls', port, tlsServerName: 'dns.test', tlsCaFile: caFile }], 150);
    expect((await failure(u.forward(query('a.example')))).detail?.attempts[0]?.reason).toBe('tls: connect timeout');
    await failure(u.forward(query('b.example')));
    expect(accepted).toBe(2);
  });

  it('refuses to start with an unreadable CA file', () => {
    expect(() => upstream([{ protocol: 'tls', tlsCaFile: join(dir, 'missing.pem') }])).toThrow(/CA file/);
  });
});
