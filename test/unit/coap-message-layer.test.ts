import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { decode, encode, type CoapMessage } from '../../src/protocols/coap/codec.ts';
import { Code, MessageType } from '../../src/protocols/coap/constants.ts';
import { CoapEndpoint, type CoapPeer, type RequestHandler } from '../../src/protocols/coap/endpoint.ts';

function fakePeer(key = 'udp:10.0.0.1:5000'): CoapPeer & { sent: CoapMessage[]; times: number[] } {
  const sent: CoapMessage[] = [];
  const times: number[] = [];
  return {
    key, address: '10.0.0.1', port: 5000, sent, times,
    send(d: Buffer) {
      const r = decode(d);
      if (r.kind !== 'message') throw new Error('endpoint sent an undecodable datagram');
      sent.push(r.message);
      times.push(Date.now());
    },
  };
}

const req = (over: Partial<CoapMessage> = {}): Buffer => encode({ type: MessageType.CON, code: Code.GET, messageId: 100, token: Buffer.from('t1'), options: [{ number: 11, value: Buffer.from('x') }], payload: Buffer.alloc(0), ...over });
const ok: RequestHandler = () => Promise.resolve({ code: Code.CONTENT, payload: Buffer.from('hello') });

describe('CoAP message layer (RFC 7252 §4, §5.2)', () => {
  it('answers a CON piggybacked in the ACK with the same message id and token', async () => {
    const peer = fakePeer();
    const ep = new CoapEndpoint(ok);
    ep.receive(peer, req());
    await sleep(5);
    expect(peer.sent).toHaveLength(1);
    expect(peer.sent[0]).toMatchObject({ type: MessageType.ACK, code: Code.CONTENT, messageId: 100 });
    expect(peer.sent[0]!.token.toString()).toBe('t1');
    expect(peer.sent[0]!.payload.toString()).toBe('hello');
    ep.close();
  });

  it('replays the cached response to a duplicate CON without running the handler again (§4.5)', async () => {
    const peer = fakePeer();
    let calls = 0;
    const ep = new CoapEndpoint(() => {
      calls++;
      return Promise.resolve({ code: Code.CHANGED });
    });
    ep.receive(peer, req({ code: Code.POST }));
    await sleep(5);
    ep.receive(peer, req({ code: Code.POST }));
    ep.receive(peer, req({ code: Code.POST }));
    await sleep(5);
    expect(calls).toBe(1);
    expect(peer.sent.map((m) => [m.type, m.code, m.messageId])).toEqual([[2, Code.CHANGED, 100], [2, Code.CHANGED, 100], [2, Code.CHANGED, 100]]);
    // Same id from another peer is another exchange.
    const other = fakePeer('udp:10.0.0.2:5000');
    ep.receive(other, req({ code: Code.POST }));
    await sleep(5);
    expect(calls).toBe(2);
    ep.close();
  });

  it('a slow handler gets an empty ACK, then a CON response retransmitted with back-off until ACKed (§5.2.2, §4.2)', async () => {
    const peer = fakePeer();
    const ep = new CoapEndpoint(async () => {
      await sleep(60);
      return { code: Code.CONTENT, payload: Buffer.from('late') };
    }, { separateAfterMs: 20, ackTimeoutMs: 40, ackRandomFactor: 1, maxRetransmit: 4 });
    ep.receive(peer, req());
    await sleep(40);
    expect(peer.sent).toHaveLength(1);
    expect(peer.sent[0]).toMatchObject({ type: MessageType.ACK, code: Code.EMPTY, messageId: 100 });
    expect(peer.sent[0]!.token.length).toBe(0);
    // A retransmitted request while processing gets the empty ACK again.
    await sleep(40);
    const con = peer.sent[1]!;
    expect(con).toMatchObject({ type: MessageType.CON, code: Code.CONTENT });
    expect(con.token.toString()).toBe('t1');
    await sleep(50);
    expect(peer.sent.length).toBe(3); // one retransmission after ~40 ms
    expect(peer.sent[2]!.messageId).toBe(con.messageId);
    ep.receive(peer, encode({ type: MessageType.ACK, code: 0, messageId: con.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
    await sleep(200);
    expect(peer.sent.length).toBe(3);
    expect(ep.pendingConfirmables).toBe(0);
    ep.close();
  });

  it('gives up after MAX_RETRANSMIT with doubling timeouts', async () => {
    const peer = fakePeer();
    const ep = new CoapEndpoint(ok, { ackTimeoutMs: 20, ackRandomFactor: 1, maxRetransmit: 4 });
    const outcome = await new Promise((resolve) => ep.sendConfirmable(peer, Buffer.from('o'), { code: Code.CONTENT }, resolve));
    expect(outcome).toBe('timeout');
    expect(peer.sent).toHaveLength(5);
    const gaps = peer.times.slice(1).map((t, i) => t - peer.times[i]!);
    // 20, 40, 80, 160 ms (timers are never early; allow scheduling slack)
    [20, 40, 80, 160].forEach((g, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(g - 2);
      expect(gaps[i]).toBeLessThan(g * 3 + 100); // loaded CI machines run timers late, never early
    });
    ep.close();
  });

  it('rejects a malformed CON with RST and drops a malformed NON (§4.2, §4.3)', async () => {
    const peer = fakePeer();
    const rejected: string[] = [];
    const ep = new CoapEndpoint(ok, { onRejected: (_p, r) => rejected.push(r) });
    ep.receive(peer, Buffer.from('49010abc0102030405060708090a', 'hex')); // TKL 9
    ep.receive(peer, Buffer.from('5f010abd', 'hex')); // NON, TKL 15
    ep.receive(peer, Buffer.from('40010abef1', 'hex')); // delta 15
    await sleep(5);
    expect(peer.sent.map((m) => [m.type, m.code, m.messageId])).toEqual([[MessageType.RST, 0, 0x0abc], [MessageType.RST, 0, 0x0abe]]);
    expect(rejected).toHaveLength(3);
    ep.close();
  });

  it('answers a CoAP ping (empty CON) with RST and ignores an unmatched ACK', async () => {
    const peer = fakePeer();
    const ep = new CoapEndpoint(ok);
    ep.receive(peer, Buffer.from('40000007', 'hex'));
    ep.receive(peer, Buffer.from('60000008', 'hex'));
    await sleep(5);
    expect(peer.sent.map((m) => [m.type, m.messageId])).toEqual([[MessageType.RST, 7]]);
    ep.close();
  });

  it('answers a NON request with a NON response carrying the token (§5.2.3)', async () => {
    const peer = fakePeer();
    const ep = new CoapEndpoint(ok);
    ep.receive(peer, req({ type: MessageType.NON }));
    await sleep(5);
    expect(peer.sent[0]).toMatchObject({ type: MessageType.NON, code: Code.CONTENT });
    expect(peer.sent[0]!.token.toString()).toBe('t1');
    ep.close();
  });

  it('caps concurrent requests per peer with 5.03, others unaffected; a throwing handler is 5.00', async () => {
    const a = fakePeer('udp:a');
    const b = fakePeer('udp:b');
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const ep = new CoapEndpoint(async (r) => {
      if (r.peer.key === 'udp:b') throw new Error('boom');
      await gate;
      return { code: Code.CONTENT };
    }, { maxConcurrentPerPeer: 2, separateAfterMs: 10_000 });
    for (let i = 0; i < 3; i++) ep.receive(a, req({ messageId: i }));
    ep.receive(b, req({ messageId: 9 }));
    await sleep(5);
    expect(a.sent.map((m) => [m.messageId, m.code])).toEqual([[2, Code.SERVICE_UNAVAILABLE]]);
    expect(b.sent.map((m) => m.code)).toEqual([Code.INTERNAL_SERVER_ERROR]);
    release();
    await sleep(5);
    expect(a.sent.map((m) => m.code).sort()).toEqual([Code.CONTENT, Code.CONTENT, Code.SERVICE_UNAVAILABLE].sort());
    ep.close();
  });

  it('keeps the de-duplication map bounded under a flood of message ids, without evicting other peers', async () => {
    const flooder = fakePeer('udp:flood');
    const quiet = fakePeer('udp:quiet');
    let calls = 0;
    const ep = new CoapEndpoint(() => {
      calls++;
      return Promise.resolve({ code: Code.CHANGED });
    }, { maxDedupPerPeer: 100, maxConcurrentPerPeer: 10_000 });
    ep.receive(quiet, req({ messageId: 7, code: Code.POST }));
    for (let i = 0; i < 1000; i++) ep.receive(flooder, req({ messageId: i }));
    await sleep(10);
    expect(ep.dedupSize).toBeLessThanOrEqual(101);
    ep.receive(quiet, req({ messageId: 7, code: Code.POST }));
    await sleep(5);
    expect(calls).toBe(1001); // the quiet peer's duplicate was replayed, not run again
    expect(quiet.sent).toHaveLength(2);
    ep.close();
  });
});
