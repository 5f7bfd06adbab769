/**
 * DtlsServer on real loopback sockets with a raw in-process client (no external peer): the
 * stateless cookie exchange, state only after a verified cookie, flight retransmission and its
 * bound, refusals, and random datagrams that never crash it.
 */
import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DtlsServer } from '../../src/protocols/dtls/index.ts';
import { parseHandshakeFragments } from '../../src/protocols/dtls/handshake-codec.ts';
import { encodeRecord, parseDatagram } from '../../src/protocols/dtls/record.ts';

function clientHello(opts: { cookie?: Buffer; suites?: number[]; version?: number; random?: Buffer; messageSeq?: number; fragmentLength?: number } = {}): Buffer {
  const suites = opts.suites ?? [0xc0a8];
  const suiteBytes = Buffer.alloc(suites.length * 2);
  suites.forEach((s, i) => suiteBytes.writeUInt16BE(s, i * 2));
  const cookie = opts.cookie ?? Buffer.alloc(0);
  const version = opts.version ?? 0xfefd;
  const body = Buffer.concat([Buffer.from([version >> 8, version & 0xff]), opts.random ?? Buffer.alloc(32, 1), Buffer.from([0, cookie.length]), cookie, Buffer.from([0, suiteBytes.length]), suiteBytes, Buffer.from([1, 0])]);
  const fragLen = opts.fragmentLength ?? body.length;
  const seq = opts.messageSeq ?? 0;
  const header = Buffer.from([1, 0, 0, body.length, seq >> 8, seq & 0xff, 0, 0, 0, 0, 0, fragLen]);
  return encodeRecord(22, 0xfeff, 0, 7n, Buffer.concat([header, body.subarray(0, fragLen)]));
}

describe('DtlsServer (raw client)', () => {
  let serverSocket: Socket;
  let client: Socket;
  let server: DtlsServer;
  let received: Buffer[];
  let events: Array<{ type: string; detail: Record<string, unknown> }>;

  async function start(opts: Partial<ConstructorParameters<typeof DtlsServer>[0]> = {}): Promise<void> {
    server = new DtlsServer({
      socket: serverSocket,
      psk: async () => Buffer.alloc(16, 1),
      retransmit: { initialMs: 40, maxTries: 3 },
      dropReportMs: 200,
      events: { record: (type, _s, ctx) => events.push({ type, detail: ctx?.detail ?? {} }) },
      ...opts,
    });
  }

  beforeEach(async () => {
    received = [];
    events = [];
    serverSocket = createSocket('udp4');
    client = createSocket('udp4');
    await new Promise<void>((r) => serverSocket.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    client.on('message', (m) => received.push(m));
  });
  afterEach(() => {
    server.close();
    serverSocket.close();
    client.close();
  });

  const send = (d: Buffer): void => client.send(d, serverSocket.address().port, '127.0.0.1');
  const waitFor = async (pred: () => boolean, ms = 2000): Promise<void> => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  const cookieFrom = (d: Buffer): Buffer => {
    const rec = parseDatagram(d).records[0]!;
    const hs = parseHandshakeFragments(rec.fragment)[0]!;
    expect(hs.msgType).toBe(3);
    return hs.body.subarray(3, 3 + hs.body[2]!);
  };

  it('answers a cookie-less ClientHello with a HelloVerifyRequest (RFC 6347 §4.2.1) and keeps no state', async () => {
    await start();
    send(clientHello({ messageSeq: 0 }));
    await waitFor(() => received.length > 0);
    const rec = parseDatagram(received[0]!).records[0]!;
    expect(rec.type).toBe(22);
    expect(rec.version).toBe(0xfeff);
    expect(rec.seq).toBe(7n); // echoes the ClientHello's record sequence number
    const hs = parseHandshakeFragments(rec.fragment)[0]!;
    expect(hs.msgType).toBe(3);
    expect(hs.messageSeq).toBe(0);
    expect(cookieFrom(received[0]!)).toHaveLength(20);
    expect(server.sessions).toBe(0);
    expect(server.stats.helloVerifyRequests).toBe(1);
  });

  it('ignores a sender the shield has banned: no HelloVerifyRequest, no state, counted as banned', async () => {
    let banned = true;
    await start({ dropFrom: (address) => banned && address === '127.0.0.1' });
    send(clientHello({ messageSeq: 0 }));
    await waitFor(() => server.stats.dropped.banned === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(0);
    expect(server.stats.helloVerifyRequests).toBe(0);
    banned = false; // the ban expired: answered as usual
    send(clientHello({ messageSeq: 0 }));
    await waitFor(() => received.length > 0);
    expect(server.stats.helloVerifyRequests).toBe(1);
  });

  it('a forged cookie gets another HelloVerifyRequest, a valid one starts the handshake (ServerHello, ServerHelloDone)', async () => {
    await start();
    send(clientHello({ cookie: Buffer.alloc(20, 9) }));
    await waitFor(() => received.length > 0);
    expect(server.sessions).toBe(0);
    expect(server.stats.cookieFailures).toBe(1);
    const cookie = cookieFrom(received[0]!);
    received.length = 0;
    send(clientHello({ cookie, messageSeq: 1 }));
    await waitFor(() => received.length > 0);
    expect(server.sessions).toBe(1);
    const types = parseDatagram(received[0]!).records.flatMap((r) => parseHandshakeFragments(r.fragment).map((f) => [f.msgType, f.messageSeq]));
    expect(types).toEqual([[2, 1], [14, 2]]);
  });

  it('a cookie is bound to the hello: the same cookie with another random does not verify', async () => {
    await start();
    send(clientHello());
    await waitFor(() => received.length > 0);
    const cookie = cookieFrom(received[0]!);
    received.length = 0;
    send(clientHello({ cookie, random: Buffer.alloc(32, 2) }));
    await waitFor(() => received.length > 0);
    expect(server.sessions).toBe(0);
    expect(server.stats.cookieFailures).toBe(1);
  });

  it('resends its flight with back-off, then gives up, frees the peer and records the failure', async () => {
    await start();
    send(clientHello());
    await waitFor(() => received.length > 0);
    const cookie = cookieFrom(received[0]!);
    received.length = 0;
    send(clientHello({ cookie, messageSeq: 1 }));
    // 40 ms initial, doubling: sends at 0, 40, 120, 280 ms; gives up at 600 ms.
    await waitFor(() => server.sessions === 0 && received.length > 0, 3000);
    expect(received).toHaveLength(4);
    const seqs = received.map((d) => parseDatagram(d).records[0]!.seq);
    expect(new Set(seqs.map(String)).size).toBe(4); // fresh record sequence numbers per retransmission
    expect(events.some((e) => e.type === 'dtls.handshake_failed' && String(e.detail['reason']).includes('retransmissions exhausted'))).toBe(true);
  });

  it('a retransmitted ClientHello (same random) makes it resend the flight instead of starting over', async () => {
    await start({ retransmit: { initialMs: 5000 } });
    send(clientHello());
    await waitFor(() => received.length > 0);
    const cookie = cookieFrom(received[0]!);
    received.length = 0;
    send(clientHello({ cookie, messageSeq: 1 }));
    await waitFor(() => received.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    send(clientHello({ cookie, messageSeq: 1 }));
    await waitFor(() => received.length > 1);
    expect(received).toHaveLength(2);
    expect(server.stats.handshakesStarted).toBe(1);
  });

  it('refuses no shared suite (handshake_failure) and DTLS 1.0-only clients (protocol_version), with events, keeping no state', async () => {
    await start();
    for (const [hello, alert] of [
      [(c: Buffer) => clientHello({ cookie: c, suites: [0x002f] }), 40],
      [(c: Buffer) => clientHello({ cookie: c, version: 0xfeff }), 70],
    ] as const) {
      received.length = 0;
      send(hello(Buffer.alloc(0)));
      await waitFor(() => received.length > 0);
      const cookie = cookieFrom(received[0]!);
      received.length = 0;
      send(hello(cookie));
      await waitFor(() => received.length > 0);
      const rec = parseDatagram(received[0]!).records[0]!;
      expect([rec.type, rec.fragment[0], rec.fragment[1]]).toEqual([21, 2, alert]);
    }
    expect(server.sessions).toBe(0);
    expect(events.filter((e) => e.type === 'dtls.handshake_failed')).toHaveLength(2);
  });

  it('drops a fragmented ClientHello without answering (it cannot be reassembled statelessly)', async () => {
    await start();
    send(clientHello({ fragmentLength: 20 }));
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(0);
    expect(server.stats.dropped.unexpected).toBe(1);
  });

  it('caps peers: past maxPeers a verified hello is dropped and recorded', async () => {
    await start({ maxPeers: 0 });
    send(clientHello());
    await waitFor(() => received.length > 0);
    const cookie = cookieFrom(received[0]!);
    received.length = 0;
    send(clientHello({ cookie }));
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(0);
    expect(server.stats.dropped.overCapacity).toBe(1);
    expect(events.some((e) => e.type === 'dtls.capacity')).toBe(true);
  });

  it('random datagrams never crash it and never create state', async () => {
    await start();
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), 400);
    const paced = async (all: Buffer[]): Promise<void> => {
      for (let i = 0; i < all.length; i++) {
        send(all[i]!);
        // Paced so the kernel's receive buffer keeps them all.
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 2));
      }
    };
    await paced(samples.map((x) => Buffer.from(x)));
    // Mutated ClientHellos too.
    const base = clientHello();
    const mutations = fc.sample(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), 400);
    await paced(
      mutations.map(([i, v]) => {
        const m = Buffer.from(base);
        m[i] = v;
        return m;
      }),
    );
    await waitFor(() => server.stats.datagrams >= 780, 3000);
    expect(server.stats.datagrams).toBeGreaterThanOrEqual(780);
    expect(server.sessions).toBe(0);
    // Counted, and summarised in one event per period rather than one per datagram.
    await waitFor(() => events.some((e) => e.type === 'dtls.records_dropped'), 1000);
    const summaries = events.filter((e) => e.type === 'dtls.records_dropped');
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.length).toBeLessThan(20);
    expect(Number(summaries[0]!.detail['malformed'] ?? 0) + Number(summaries[0]!.detail['unexpected'] ?? 0)).toBeGreaterThan(0);
  });
});
