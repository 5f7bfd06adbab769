/**
 * The CoAP listener's UDP socket (src/protocols/coap/udp-socket.ts): the batched native I/O
 * (native/udp-batch, recvmmsg/sendmmsg) and the node:dgram fallback behave the same to their
 * user — same datagrams, same peer address text, replies to the right peer, bursts larger than
 * one native batch, and close. Real sockets on loopback.
 */
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { formatPeerIpv6 as formatIpv6, loadUdpBatchAddon, openUdpSocket, packIp, type UdpSocket } from '../../src/protocols/coap/udp-socket.ts';

const open: UdpSocket[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const c of clients.splice(0)) c.close();
});

interface Seen { data: string; address: string; port: number }

/** A server socket that echoes each datagram back with a prefix, recording what it saw. */
async function echoServer(io: 'batched' | 'node', host: string): Promise<{ socket: UdpSocket; seen: Seen[] }> {
  const seen: Seen[] = [];
  const socket: UdpSocket = await openUdpSocket({
    host,
    port: 0,
    io,
    bufferBytes: 1 << 20,
    onDatagram: (d, address, port) => {
      seen.push({ data: d.toString(), address, port });
      socket.send(Buffer.concat([Buffer.from('re:'), d]), port, address);
    },
    onError: (err) => {
      throw err;
    },
  });
  open.push(socket);
  return { socket, seen };
}

async function client(type: 'udp4' | 'udp6', host: string): Promise<{ sock: Socket; replies: string[] }> {
  // A large receive buffer: the batched server answers a burst faster than this process reads,
  // and the kernel drops what does not fit (default ≈ 208 KiB ≈ 256 small datagrams).
  const sock = createSocket({ type, recvBufferSize: 4 << 20 });
  clients.push(sock);
  const replies: string[] = [];
  sock.on('message', (m) => replies.push(m.toString()));
  await new Promise<void>((r) => sock.bind(0, host, r));
  return { sock, replies };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
}

describe('the batched UDP addon', () => {
  it('is built on this machine (postinstall ran scripts/build-native.sh), so the fast path is what runs', () => {
    expect(loadUdpBatchAddon(), 'native/udp-batch/build/udp_batch.node missing: run `sh scripts/build-native.sh`').not.toBeNull();
  });
});

describe.each(['batched', 'node'] as const)('UDP socket, %s I/O', (io) => {
  it('delivers datagrams with the sender address as node:dgram reports it, and replies to that sender (IPv4)', async () => {
    const { socket, seen } = await echoServer(io, '127.0.0.1');
    expect(socket.io).toBe(io);
    const { sock, replies } = await client('udp4', '127.0.0.1');
    sock.send('hello', socket.port, '127.0.0.1');
    await until(() => replies.length === 1);
    expect(replies).toEqual(['re:hello']);
    expect(seen).toEqual([{ data: 'hello', address: '127.0.0.1', port: sock.address().port }]);
  });

  it('works over IPv6 loopback', async () => {
    const { socket, seen } = await echoServer(io, '::1');
    const { sock, replies } = await client('udp6', '::1');
    sock.send('six', socket.port, '::1');
    await until(() => replies.length === 1);
    expect(replies).toEqual(['re:six']);
    expect(seen[0]).toEqual({ data: 'six', address: '::1', port: sock.address().port });
  });

  it('passes a burst larger than one native batch (64) intact and in order, and an empty datagram', async () => {
    const { socket, seen } = await echoServer(io, '127.0.0.1');
    const { sock, replies } = await client('udp4', '127.0.0.1');
    const n = 300;
    for (let i = 0; i < n; i++) sock.send(`m${i}`, socket.port, '127.0.0.1');
    sock.send(Buffer.alloc(0), socket.port, '127.0.0.1');
    await until(() => replies.length === n + 1);
    expect(seen.map((s) => s.data)).toEqual([...Array.from({ length: n }, (_, i) => `m${i}`), '']);
    expect(new Set(replies).size).toBe(n + 1);
  });

  it('keeps each peer apart: two clients get only their own replies', async () => {
    const { socket } = await echoServer(io, '127.0.0.1');
    const a = await client('udp4', '127.0.0.1');
    const b = await client('udp4', '127.0.0.1');
    for (let i = 0; i < 20; i++) {
      a.sock.send(`a${i}`, socket.port, '127.0.0.1');
      b.sock.send(`b${i}`, socket.port, '127.0.0.1');
    }
    await until(() => a.replies.length === 20 && b.replies.length === 20);
    expect(a.replies.every((r) => r.startsWith('re:a'))).toBe(true);
    expect(b.replies.every((r) => r.startsWith('re:b'))).toBe(true);
  });

  it('carries a datagram near the UDP maximum', async () => {
    const { socket, seen } = await echoServer(io, '127.0.0.1');
    const { sock } = await client('udp4', '127.0.0.1');
    const big = Buffer.alloc(60_000, 0x41);
    sock.send(big, socket.port, '127.0.0.1');
    await until(() => seen.length === 1);
    expect(seen[0]?.data.length).toBe(60_000);
  });

  it('stops delivering on close and frees the port', async () => {
    const { socket, seen } = await echoServer(io, '127.0.0.1');
    const port = socket.port;
    await socket.close();
    open.splice(open.indexOf(socket), 1);
    const { sock } = await client('udp4', '127.0.0.1');
    sock.send('late', port, '127.0.0.1');
    await sleep(50);
    expect(seen).toEqual([]);
    const again = await openUdpSocket({ host: '127.0.0.1', port, io, bufferBytes: 0, onDatagram: () => undefined, onError: () => undefined });
    open.push(again);
    expect(again.port).toBe(port);
  });
});

describe('auto I/O', () => {
  it('falls back to node:dgram for an address the addon cannot take (an IPv6 scope id), and fails loudly when batched was required', async () => {
    const opts = { host: '::1%lo', port: 0, bufferBytes: 0, onDatagram: () => undefined, onError: () => undefined };
    const s = await openUdpSocket({ ...opts, io: 'auto' });
    open.push(s);
    expect(s.io).toBe('node');
    await expect(openUdpSocket({ ...opts, io: 'batched' })).rejects.toThrow(/not an IP address/);
  });

  it('does not hide a port already in use behind the fallback', async () => {
    const first = await openUdpSocket({ host: '127.0.0.1', port: 0, io: 'auto', bufferBytes: 0, onDatagram: () => undefined, onError: () => undefined });
    open.push(first);
    await expect(openUdpSocket({ host: '127.0.0.1', port: first.port, io: 'auto', bufferBytes: 0, onDatagram: () => undefined, onError: () => undefined })).rejects.toThrow(/EADDRINUSE|address already in use/i);
  });
});

describe('address text and packing', () => {
  const bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

  it('formats IPv6 as RFC 5952 text (the WHATWG URL serializer agrees) and packs it back to the same bytes', () => {
    fc.assert(fc.property(bytes, fc.boolean(), (raw, zeroRun) => {
      const b = Uint8Array.from(raw);
      if (zeroRun) b.fill(0, 4, 10); // exercise the "::" compression
      const text = formatIpv6(b);
      if (!isMapped(b)) expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      expect([...packIp(text)!.subarray(2)]).toEqual([...b]);
      expect(packIp(text)![0]).toBe(6);
    }));
  });

  it('writes IPv4-mapped addresses the way node:dgram does', () => {
    expect(formatIpv6(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]))).toBe('::ffff:127.0.0.1');
    expect(formatIpv6(new Uint8Array(16))).toBe('::');
    expect(formatIpv6(Uint8Array.from([...new Array<number>(15).fill(0), 1]))).toBe('::1');
  });

  it('packs IPv4 as family 4 and its four bytes', () => {
    expect([...packIp('10.1.2.250')!.subarray(0, 6)]).toEqual([4, 0, 10, 1, 2, 250]);
  });
});
