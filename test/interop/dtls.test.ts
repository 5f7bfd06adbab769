/**
 * DTLS 1.2 server interop (issue 4, points 3 and 7): openssl s_client -dtls1_2 and libcoap's
 * coap-client-openssl / coap-client-gnutls against Palisade's DtlsServer with a tiny echo/CoAP
 * application, in PSK and certificate modes; refusals with their alerts and security events;
 * bad records dropped without harming the session; a ClientHello flood that allocates nothing
 * before the cookie while a legitimate peer still completes.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsServer } from '../../src/protocols/dtls/index.ts';
import { encodeRecord } from '../../src/protocols/dtls/record.ts';
import { COAP_PAYLOAD, dtlsWorld, opensslCert, opensslPsk, runPeer, startDtlsServer, type DtlsWorld, type RunningServer } from './dtls-peers.ts';

const PSK_TEXT = 'a3f1c2d4e5b6978899aabbccddeeff00';
const PSK = Buffer.from(PSK_TEXT, 'ascii');
const PSK_HEX = PSK.toString('hex');

let world: DtlsWorld;
let srv: RunningServer;
const revoked = new Set<string>();

beforeAll(async () => {
  world = await dtlsWorld(['dev-1', 'dev-2']);
  revoked.add(world.device('dev-2').serial);
  srv = await startDtlsServer({
    psk: async (id) => (id === 'dev-1' ? PSK : null),
    cert: world.serverPem,
    verifyPeer: (_chain, identity) => (revoked.has(identity.serial) ? null : identity),
  });
});

afterAll(async () => {
  await srv.close();
});

function eventsFor(predicate: (e: RunningServer['events'][number]) => boolean): RunningServer['events'] {
  return srv.events.filter(predicate);
}

describe('openssl s_client -dtls1_2, PSK', () => {
  for (const [cipher, suite] of [
    ['PSK-AES128-CCM8', 'TLS_PSK_WITH_AES_128_CCM_8'],
    ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
  ] as const) {
    it(`${cipher}: handshake, a line echoed back, identity = device id`, async () => {
      const before = srv.sessions.length;
      const r = await runPeer('openssl', opensslPsk(srv.port, 'dev-1', PSK_HEX, cipher), { input: `PING ${cipher}\n`, until: new RegExp(`PING ${cipher}`) });
      expect(r.matched, r.stderr).toBe(true);
      const session = srv.sessions[before]!;
      expect(session.cipherSuite).toBe(suite);
      expect(session.identity).toEqual({ kind: 'psk', id: 'dev-1' });
    });
  }

  it('a wrong PSK is refused with a fatal alert and a security event', async () => {
    const r = await runPeer('openssl', opensslPsk(srv.port, 'dev-1', 'ff'.repeat(16), 'PSK-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 10_000 });
    expect(r.matched).toBe(false);
    expect(r.stderr).toMatch(/alert bad record mac/);
    expect(eventsFor((e) => e.type === 'dtls.handshake_failed' && e.principal === 'dev-1' && e.detail['identityKnown'] === true)).not.toHaveLength(0);
  });

  it('an unknown identity fails exactly like a wrong key (RFC 4279 §2) and is recorded', async () => {
    const r = await runPeer('openssl', opensslPsk(srv.port, 'nobody', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 10_000 });
    expect(r.matched).toBe(false);
    expect(r.stderr).toMatch(/alert bad record mac/);
    expect(eventsFor((e) => e.type === 'dtls.handshake_failed' && e.principal === 'nobody' && e.detail['identityKnown'] === false)).not.toHaveLength(0);
  });
});

describe('openssl s_client -dtls1_2, ECDHE-ECDSA with device certificates', () => {
  for (const [cipher, suite] of [
    ['ECDHE-ECDSA-AES128-CCM8', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  ] as const) {
    it(`${cipher}: server verified against Palisade's CA, device identified by its certificate`, async () => {
      const before = srv.sessions.length;
      const dev = world.device('dev-1');
      const r = await runPeer('openssl', opensslCert(srv.port, world.caPath, dev.cert, dev.key, cipher), { input: `PING ${cipher}\n`, until: new RegExp(`PING ${cipher}`) });
      expect(r.matched, r.stderr).toBe(true);
      const session = srv.sessions[before]!;
      expect(session.cipherSuite).toBe(suite);
      expect(session.identity).toMatchObject({ kind: 'certificate', cert: { deviceId: 'dev-1', serial: dev.serial } });
    });
  }

  it('no client certificate: handshake_failure and an event', async () => {
    const r = await runPeer('openssl', opensslCert(srv.port, world.caPath, null, null, 'ECDHE-ECDSA-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 10_000 });
    expect(r.matched).toBe(false);
    expect(r.stderr).toMatch(/alert handshake failure/);
    expect(eventsFor((e) => e.type === 'dtls.handshake_failed' && String(e.detail['reason']).includes('no client certificate'))).not.toHaveLength(0);
  });

  it('a revoked device certificate: certificate_revoked', async () => {
    const dev = world.device('dev-2');
    const r = await runPeer('openssl', opensslCert(srv.port, world.caPath, dev.cert, dev.key, 'ECDHE-ECDSA-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 10_000 });
    expect(r.matched).toBe(false);
    expect(r.stderr).toMatch(/alert certificate revoked/);
    expect(eventsFor((e) => e.type === 'dtls.handshake_failed' && e.detail['alert'] === 'certificate_revoked')).not.toHaveLength(0);
  });

  it('a certificate from a foreign CA naming the same device: unknown_ca', async () => {
    const r = await runPeer('openssl', opensslCert(srv.port, world.caPath, world.foreign.cert, world.foreign.key, 'ECDHE-ECDSA-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 10_000 });
    expect(r.matched).toBe(false);
    expect(r.stderr).toMatch(/alert unknown ca/);
    expect(eventsFor((e) => e.type === 'dtls.handshake_failed' && e.detail['alert'] === 'unknown_ca')).not.toHaveLength(0);
  });
});

describe('libcoap clients (coaps://)', () => {
  for (const client of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`${client} with -u/-k (PSK) gets the application's answer`, async () => {
      const before = srv.sessions.length;
      const r = await runPeer(client, ['-B', '5', '-u', 'dev-1', '-k', PSK_TEXT, `coaps://127.0.0.1:${srv.port}/.well-known/core`]);
      expect(r.stdout, r.stderr).toContain(COAP_PAYLOAD);
      expect(srv.sessions[before]?.identity).toEqual({ kind: 'psk', id: 'dev-1' });
      expect(srv.sessions[before]?.cipherSuite).toMatch(/^TLS_PSK_WITH_AES_128_(CCM_8|GCM_SHA256)$/);
    });

    it(`${client} with -c/-j (device certificate) gets the application's answer`, async () => {
      const before = srv.sessions.length;
      const dev = world.device('dev-1');
      const r = await runPeer(client, ['-B', '5', '-c', dev.cert, '-j', dev.key, '-C', world.caPath, `coaps://127.0.0.1:${srv.port}/.well-known/core`]);
      expect(r.stdout, r.stderr).toContain(COAP_PAYLOAD);
      expect(srv.sessions[before]?.identity).toMatchObject({ kind: 'certificate', cert: { deviceId: 'dev-1' } });
    });
  }
});

describe('bad records and floods (issue 4, point 7)', () => {
  it('bad MAC, bad epoch, truncated, replayed records and spoofed plaintext alerts on a live session are dropped silently; the session goes on', async () => {
    // Capture the client's first application-data datagram as it arrives, to replay it later.
    const captured: Buffer[] = [];
    const tap = (d: Buffer): void => {
      if (d[0] === 23) captured.push(Buffer.from(d));
    };
    srv.socket.on('message', tap);
    const before = srv.sessions.length;
    const echoes: string[] = [];
    const peer = runPeer('openssl', opensslPsk(srv.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING first\n', keepStdinOpen: true, until: /PING second/, timeoutMs: 15_000 });
    const deadline = Date.now() + 10_000;
    while ((srv.sessions.length === before || captured.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    srv.socket.off('message', tap);
    const session = srv.sessions[before]!;
    session.onData((d) => echoes.push(d.toString()));
    const from = session.remote;
    const dropped = { ...srv.server.stats.dropped };
    const inject = (d: Buffer): void => {
      srv.socket.emit('message', d, { address: from.address, port: from.port, family: 'IPv4', size: d.length });
    };
    // The same record again (RFC 6347 §4.1.2.6): dropped by the replay window, not delivered twice.
    inject(captured[0]!);
    // Epoch 1 application data with a forged tag (bad MAC after the handshake: dropped, no alert, §4.1.2.7).
    inject(encodeRecord(23, 0xfefd, 1, 1000n, randomBytes(40)));
    // Unknown epoch.
    inject(encodeRecord(23, 0xfefd, 7, 1n, randomBytes(40)));
    // Truncated header, a length past the datagram, garbage.
    inject(Buffer.from([23, 0xfe, 0xfd, 0, 1]));
    inject(encodeRecord(23, 0xfefd, 1, 5n, randomBytes(40)).subarray(0, 20));
    inject(randomBytes(300));
    // Plaintext (epoch 0) alerts from the peer's address: unauthenticated, so they must not close the session.
    inject(encodeRecord(21, 0xfefd, 0, 99n, Buffer.from([2, 40])));
    inject(encodeRecord(21, 0xfefd, 0, 100n, Buffer.from([1, 0])));
    const s = srv.server.stats.dropped;
    expect(s.unexpected).toBeGreaterThanOrEqual(dropped.unexpected + 2);
    expect(s.replay).toBe(dropped.replay + 1);
    expect(s.badMac).toBe(dropped.badMac + 1);
    expect(s.badEpoch).toBe(dropped.badEpoch + 1);
    expect(s.malformed).toBeGreaterThanOrEqual(dropped.malformed + 3);
    expect(echoes).toEqual([]);
    // The session still works both ways.
    session.send(Buffer.from('PING second\n'));
    const result = await peer;
    expect(result.matched, result.stderr).toBe(true);
    expect(result.stdout).toContain('PING first');
  });

  it('a flood of ClientHellos from loopback allocates no peer state before the cookie, and a real peer still completes', async () => {
    const server = srv.server;
    const peersBefore = server.sessions;
    const hvrBefore = server.stats.helloVerifyRequests;
    const cookieFailuresBefore = server.stats.cookieFailures;
    const flooders = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const s = createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
        s.on('message', () => {});
        return s;
      }),
    );
    const hello = (cookie: Buffer): Buffer => {
      const body = Buffer.concat([Buffer.from([0xfe, 0xfd]), randomBytes(32), Buffer.from([0, cookie.length]), cookie, Buffer.from([0, 4, 0xc0, 0xa8, 0xc0, 0xae, 1, 0])]);
      const hs = Buffer.concat([Buffer.from([1, 0, 0, body.length, 0, 0, 0, 0, 0, 0, 0, body.length]), body]);
      return encodeRecord(22, 0xfeff, 0, 0n, hs);
    };
    const total = 4000;
    const legit = runPeer('openssl', opensslPsk(srv.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING during flood\n', until: /PING during flood/, timeoutMs: 20_000 });
    const started = Date.now();
    for (let i = 0; i < total; i++) {
      const s = flooders[i % flooders.length]!;
      // Half without a cookie, half with a forged one.
      s.send(hello(i % 2 === 0 ? Buffer.alloc(0) : randomBytes(20)), srv.port, '127.0.0.1');
      // Paced so the kernel's socket buffer does not drop them before the server reads them.
      if (i % 25 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const deadline = Date.now() + 10_000;
    while (server.stats.helloVerifyRequests - hvrBefore < total * 0.9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const elapsed = Date.now() - started;
    const result = await legit;
    for (const s of flooders) s.close();
    expect(result.matched, result.stderr).toBe(true);
    // No flooder got past the cookie: the only new peer is the legitimate one.
    expect(server.sessions).toBeLessThanOrEqual(peersBefore + 1);
    expect(server.stats.helloVerifyRequests - hvrBefore).toBeGreaterThanOrEqual(total * 0.9);
    expect(server.stats.cookieFailures - cookieFailuresBefore).toBeGreaterThanOrEqual(total * 0.45 - 1);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('past maxHandshakes a verified-cookie ClientHello is dropped and recorded, and established peers are unaffected', async () => {
    const small = await startDtlsServer({ psk: async () => PSK, maxHandshakes: 0 });
    try {
      const r = await runPeer('openssl', opensslPsk(small.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 4_000 });
      expect(r.matched).toBe(false);
      expect(small.server.stats.dropped.overCapacity).toBeGreaterThan(0);
      expect(small.events.some((e) => e.type === 'dtls.capacity')).toBe(true);
      expect(small.server.sessions).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('a DtlsServer survives being constructed without PSK or certificate (refuses every suite with handshake_failure)', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const bare = new DtlsServer({ socket });
    try {
      const r = await runPeer('openssl', opensslPsk(socket.address().port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING x\n', until: /PING x/, timeoutMs: 5_000 });
      expect(r.stderr).toMatch(/alert handshake failure/);
    } finally {
      bare.close();
      socket.close();
    }
  });
});

describe('retransmission under loss (RFC 6347 §4.2.4)', () => {
  /** A UDP relay between openssl and the server that drops the datagrams `drop` picks. */
  async function lossyRelay(target: number, drop: (fromServer: boolean, d: Buffer, index: number) => boolean) {
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => back.bind(0, '127.0.0.1', r));
    let client: { address: string; port: number } | null = null;
    const seen = { toServer: 0, toClient: 0, serverHellos: 0, finalFlights: 0 };
    front.on('message', (d, rinfo) => {
      client = { address: rinfo.address, port: rinfo.port };
      if (!drop(false, d, seen.toServer++)) back.send(d, target, '127.0.0.1');
    });
    back.on('message', (d) => {
      // Handshake record at epoch 0 whose first message is ServerHello (type 2 at offset 13).
      if (d[0] === 22 && d[3] === 0 && d[4] === 0 && d[13] === 2) seen.serverHellos++;
      if (d[0] === 20) seen.finalFlights++;
      if (client !== null && !drop(true, d, seen.toClient++)) front.send(d, client.port, client.address);
    });
    return { port: front.address().port, seen, close: () => { front.close(); back.close(); } };
  }

  it('a lost ServerHello flight is resent by the server timer; a lost final flight is resent when the client retransmits', async () => {
    let droppedHello = false;
    let droppedFinal = false;
    const relay = await lossyRelay(srv.port, (fromServer, d) => {
      if (!fromServer) return false;
      if (!droppedHello && d[0] === 22 && d[13] === 2) return (droppedHello = true);
      if (!droppedFinal && d[0] === 20) return (droppedFinal = true);
      return false;
    });
    try {
      const started = Date.now();
      const r = await runPeer('openssl', opensslPsk(relay.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8'), { input: 'PING lossy\n', until: /PING lossy/, timeoutMs: 20_000 });
      expect(r.matched, r.stderr).toBe(true);
      expect(droppedHello && droppedFinal).toBe(true);
      expect(relay.seen.serverHellos).toBeGreaterThanOrEqual(2);
      expect(relay.seen.finalFlights).toBeGreaterThanOrEqual(2);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      relay.close();
    }
  });
});

describe('session lifecycle', () => {
  it('client-initiated renegotiation is refused with no_renegotiation', async () => {
    const args = opensslPsk(srv.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8').filter((a) => a !== '-quiet');
    // s_client renegotiates when it reads a line "R" (interactive mode, without -quiet).
    const r = await runPeer('bash', ['-c', `(echo 'PING a'; sleep 0.7; echo R; sleep 1.5) | openssl ${args.join(' ')}`], { timeoutMs: 8_000 });
    expect(r.stdout).toContain('PING a');
    expect(r.stdout + r.stderr).toMatch(/RENEGOTIATING/);
    expect(r.stdout + r.stderr).toMatch(/no renegotiation/i);
  });

  it('close_notify from the client closes the session (onClose fires once)', async () => {
    const before = srv.sessions.length;
    const closed: number[] = [];
    srv.server.once('session', (s) => s.onClose(() => closed.push(Date.now())));
    const args = opensslPsk(srv.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8').filter((a) => a !== '-quiet');
    // Without -quiet, s_client sends close_notify when its stdin ends.
    const r = await runPeer('bash', ['-c', `(echo 'PING bye'; sleep 0.7) | openssl ${args.join(' ')}`], { timeoutMs: 8_000 });
    expect(r.stdout).toContain('PING bye');
    const deadline = Date.now() + 3_000;
    while (closed.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(srv.sessions.length).toBe(before + 1);
    expect(closed).toHaveLength(1);
  });

  it('many peers at once: 16 concurrent openssl clients (PSK and certificate) each get their own echo', async () => {
    const dev = world.device('dev-1');
    const runs = Array.from({ length: 16 }, (_, i) => {
      const line = `PING peer-${i}`;
      const args = i % 2 === 0 ? opensslPsk(srv.port, 'dev-1', PSK_HEX, 'PSK-AES128-CCM8') : opensslCert(srv.port, world.caPath, dev.cert, dev.key, 'ECDHE-ECDSA-AES128-CCM8');
      return runPeer('openssl', args, { input: `${line}\n`, until: new RegExp(`${line}\\n`), timeoutMs: 30_000 });
    });
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r.matched, `peer ${i}: ${r.stderr}`).toBe(true);
      expect(r.stdout).not.toMatch(new RegExp(`PING peer-(?!${i}\\b)\\d+`));
    });
  });
});
