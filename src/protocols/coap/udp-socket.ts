/**
 * The UDP socket under the CoAP listener, in one of two forms with one interface:
 *  - batched: native/udp-batch (recvmmsg/sendmmsg on a libuv poll handle), a batch of datagrams
 *    per JS call and the responses queued in one tick sent with one system call;
 *  - node: node:dgram, one call per datagram — the fallback where the addon is not built
 *    (not Linux, no compiler or headers at install time), or when the operator asks for it.
 * Why the addon exists at all: see the comment at the top of native/udp-batch/udp_batch.c.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatAddress, formatIpv6, isIpv4Mapped, parseIp } from '../../core/policy/cidr.ts';
import { loadNativeAddon, nativeAddonPath } from '../../native-addon.ts';

export type UdpIo = 'auto' | 'batched' | 'node';

export interface UdpSocket {
  readonly port: number;
  readonly io: 'batched' | 'node';
  send(datagram: Buffer, port: number, address: string): void;
  close(): Promise<void>;
}

export interface UdpSocketOptions {
  host: string;
  port: number;
  io: UdpIo;
  bufferBytes: number;
  onDatagram(datagram: Buffer, address: string, port: number): void;
  onError(err: Error): void;
}

interface UdpBatchAddon {
  open(family: 4 | 6, host: string, port: number, bufferBytes: number, onBatch: (count: number) => void): [unknown, number, ArrayBuffer, ArrayBuffer];
  send(handle: unknown, data: Uint8Array, meta: Uint8Array, count: number): number;
  close(handle: unknown): void;
}

const ADDON_PATH = nativeAddonPath('udp-batch', 'udp_batch');
const SLOT = 65_536;
const RECV_META = 24;
const SEND_META = 28;
const SEND_BUFFER = 1 << 20;
const MAX_SEND_BATCH = 1024;
const ADDRESS_CACHE = 10_000;

/** The batched-I/O addon, or null when it is not built here (then node:dgram serves). */
export function loadUdpBatchAddon(): UdpBatchAddon | null {
  return loadNativeAddon<UdpBatchAddon>(ADDON_PATH);
}

export async function openUdpSocket(opts: UdpSocketOptions): Promise<UdpSocket> {
  const native = opts.io === 'node' ? null : loadUdpBatchAddon();
  if (native === null && opts.io === 'batched') throw new Error(`batched UDP I/O is not built here (${ADDON_PATH}); run scripts/build-native.sh`);
  if (native === null) return openNodeSocket(opts);
  try {
    return openBatchedSocket(native, opts);
  } catch (err) {
    // 'auto' on an address the addon cannot bind (an IPv6 scope id like fe80::1%eth0): node:dgram can.
    if (opts.io === 'batched' || (err instanceof Error && /bind: /.test(err.message))) throw err;
    return openNodeSocket(opts);
  }
}

async function openNodeSocket(opts: UdpSocketOptions): Promise<UdpSocket> {
  const socket = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: opts.bufferBytes, sendBufferSize: opts.bufferBytes });
  socket.on('message', (msg, rinfo) => opts.onDatagram(msg, rinfo.address, rinfo.port));
  // A send to an unreachable peer surfaces here (ICMP); it must not end the listener.
  socket.on('error', (err) => opts.onError(err));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    io: 'node',
    send: (d, port, address) => socket.send(d, port, address),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function openBatchedSocket(native: UdpBatchAddon, opts: UdpSocketOptions): UdpSocket {
  const family = isIP(opts.host) === 6 ? 6 : 4;
  let recv: Buffer = Buffer.alloc(0);
  let recvMeta: Buffer = Buffer.alloc(0);
  const v4Names = new Map<number, string>();
  const v6Names = new Map<string, string>();
  const onBatch = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const m = i * RECV_META;
      const len = recvMeta.readUInt32LE(m);
      const port = recvMeta.readUInt16LE(m + 4);
      const address = recvMeta[m + 6] === 6 ? nameV6(recvMeta, m + 8, v6Names) : nameV4(recvMeta.readUInt32BE(m + 8), v4Names);
      // Copied: the slot is overwritten by the next batch, and requests outlive this call.
      const datagram = Buffer.allocUnsafe(len);
      recv.copy(datagram, 0, i * SLOT, i * SLOT + len);
      opts.onDatagram(datagram, address, port);
    }
  };
  const [handle, port, recvAb, metaAb] = native.open(family, opts.host, opts.port, opts.bufferBytes, onBatch);
  recv = Buffer.from(recvAb);
  recvMeta = Buffer.from(metaAb);

  const out = Buffer.allocUnsafe(SEND_BUFFER);
  const sendMeta = Buffer.alloc(MAX_SEND_BATCH * SEND_META);
  const packed = new Map<string, Buffer>();
  let pending = 0;
  let used = 0;
  let scheduled = false;
  let closed = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === 0 || closed) return;
    const n = pending;
    pending = 0;
    used = 0;
    native.send(handle, out, sendMeta, n);
  };
  const packAddress = (address: string): Buffer | null => {
    const known = packed.get(address);
    if (known) return known;
    const a = packIp(address);
    if (a === null) return null;
    if (packed.size >= ADDRESS_CACHE) packed.clear();
    packed.set(address, a);
    return a;
  };
  return {
    port,
    io: 'batched',
    send: (d, toPort, address) => {
      // Peers' addresses come from received datagrams; one that is no IP address is not sent to.
      const to = closed || d.length > SLOT ? null : packAddress(address);
      if (to === null) return;
      if (used + d.length > SEND_BUFFER || pending === MAX_SEND_BATCH) flush();
      d.copy(out, used);
      const m = pending * SEND_META;
      sendMeta.writeUInt32LE(used, m);
      sendMeta.writeUInt32LE(d.length, m + 4);
      sendMeta.writeUInt16LE(toPort, m + 8);
      to.copy(sendMeta, m + 10);
      used += d.length;
      pending++;
      // Everything answered in this tick leaves in one sendmmsg.
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    close: () => {
      if (!closed) {
        flush();
        closed = true;
        native.close(handle);
      }
      return Promise.resolve();
    },
  };
}

function nameV4(n: number, cache: Map<number, string>): string {
  let s = cache.get(n);
  if (s !== undefined) return s;
  if (cache.size >= ADDRESS_CACHE) cache.clear();
  s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  cache.set(n, s);
  return s;
}

/** RFC 5952 text of 16 address bytes (as node:dgram reports it, incl. `::ffff:a.b.c.d`). */
function nameV6(b: Buffer, at: number, cache: Map<string, string>): string {
  const key = b.toString('hex', at, at + 16);
  let s = cache.get(key);
  if (s !== undefined) return s;
  if (cache.size >= ADDRESS_CACHE) cache.clear();
  s = formatPeerIpv6(b.subarray(at, at + 16));
  cache.set(key, s);
  return s;
}

/** A peer's IPv6 address as node:dgram reports it: RFC 5952, an IPv4-mapped one as `::ffff:a.b.c.d`. */
export function formatPeerIpv6(b: Uint8Array): string {
  return isIpv4Mapped(b) ? `::ffff:${formatAddress(b)}` : formatIpv6(b);
}

/** [family, pad, 16 address bytes] for the send metadata; null when `address` is no IP address. */
export function packIp(address: string): Buffer | null {
  const a = parseIp(address);
  if (a === null) return null;
  const out = Buffer.alloc(18);
  if (address.includes(':')) {
    out[0] = 6;
    out.set(a, 2);
  } else {
    out[0] = 4;
    out.set(a.subarray(12, 16), 2);
  }
  return out;
}
