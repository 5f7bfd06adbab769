/**
 * The DNS server's sockets: UDP (the CoAP listener's socket, batched recvmmsg/sendmmsg where
 * the addon is built) and TCP on the same port number (RFC 7766 §5: a server on UDP must also
 * answer on TCP, which is where clients go after TC=1).
 *
 * TCP per RFC 7766: each message framed by a 2-byte length (§8); several queries pipelined on
 * one connection and answered as each is ready, possibly out of order (§6.2.1.1); idle
 * connections closed (§6.2.3); connections and queries in flight per connection capped (§10),
 * reading paused at the cap or while the client does not read its answers. A frame that
 * cannot be a query (shorter than a header, longer than any query) closes the connection.
 * Nothing a peer sends can throw out of here.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { openUdpSocket, type UdpIo, type UdpSocket } from '../coap/udp-socket.ts';
import type { DnsClientAddress, DnsEngine } from './engine.ts';
import { HEADER_LENGTH, MAX_QUERY_LENGTH } from './wire.ts';

export interface DnsListenerLogger {
  warn(obj: object, msg: string): void;
}

export interface DnsTcpLimits {
  /** Idle connections are closed after this long (RFC 7766 §6.2.3). */
  idleTimeoutMs: number;
  maxConnections: number;
  /** Queries of one connection being resolved at once; reading pauses at the cap. */
  maxInflightPerConnection: number;
}

export interface DnsListenerOptions {
  host: string;
  /** 0: an ephemeral port, the same for UDP and TCP. */
  port: number;
  io: UdpIo;
  engine: Pick<DnsEngine, 'handle'>;
  logger: DnsListenerLogger;
  tcp?: Partial<DnsTcpLimits>;
}

export interface DnsListeners {
  readonly port: number;
  readonly udpIo: 'batched' | 'node';
  close(): Promise<void>;
}

const DEFAULT_TCP: DnsTcpLimits = { idleTimeoutMs: 10_000, maxConnections: 1000, maxInflightPerConnection: 32 };
const BIND_ATTEMPTS = 8;
/** Past this much unsent answer data, stop reading the connection until it drains. */
const MAX_WRITE_BUFFER = 256 * 1024;

export async function startDnsListeners(opts: DnsListenerOptions): Promise<DnsListeners> {
  const limits: DnsTcpLimits = { ...DEFAULT_TCP, ...opts.tcp };
  for (let attempt = 1; ; attempt++) {
    const udp = await openDnsUdp(opts);
    try {
      const tcp = await openDnsTcp(opts, udp.socket.port, limits);
      return {
        port: udp.socket.port,
        udpIo: udp.socket.io,
        close: async () => {
          udp.closed = true;
          await Promise.all([udp.socket.close(), tcp.close()]);
          // The batched socket's fd is released by libuv's close phase: let one pass, so the
          // port is free when close() resolves.
          await new Promise((r) => setImmediate(r));
          await new Promise((r) => setImmediate(r));
        },
      };
    } catch (err) {
      await udp.socket.close();
      // Port 0: the ephemeral port UDP got may be taken on TCP; try another.
      if (opts.port !== 0 || attempt >= BIND_ATTEMPTS || !isAddressInUse(err)) throw err;
    }
  }
}

function isAddressInUse(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

async function openDnsUdp(opts: DnsListenerOptions): Promise<{ socket: UdpSocket; closed: boolean }> {
  const state: { socket: UdpSocket | null; closed: boolean } = { socket: null, closed: false };
  const engine = opts.engine;
  const send = (answer: Buffer, port: number, address: string): void => {
    try {
      state.socket?.send(answer, port, address);
    } catch (err) {
      opts.logger.warn({ err, client: address }, 'dns: UDP send failed');
    }
  };
  const sendLater = (answer: Promise<Buffer | null>, port: number, address: string): void => {
    answer.then(
      (b) => {
        if (b !== null && !state.closed) send(b, port, address);
      },
      (err: unknown) => opts.logger.warn({ err, client: address }, 'dns: query failed'),
    );
  };
  const socket = await openUdpSocket({
    host: opts.host,
    port: opts.port,
    io: opts.io,
    bufferBytes: 4 * 1024 * 1024,
    onDatagram: (msg, address, port) => {
      // Source port 0 cannot be answered (node:dgram would throw on the send): a forged source.
      if (msg.length > MAX_QUERY_LENGTH || port === 0 || state.closed) return;
      let answer: Buffer | null | Promise<Buffer | null>;
      try {
        answer = engine.handle(msg, { address, port }, 'udp');
      } catch (err) {
        opts.logger.warn({ err, client: address }, 'dns: query failed');
        return;
      }
      if (answer === null) return;
      if (answer instanceof Uint8Array) send(answer, port, address);
      else sendLater(answer, port, address);
    },
    onError: (err) => opts.logger.warn({ err }, 'dns: UDP socket error'),
  });
  state.socket = socket;
  return state as { socket: UdpSocket; closed: boolean };
}

async function openDnsTcp(opts: DnsListenerOptions, port: number, limits: DnsTcpLimits): Promise<{ close(): Promise<void> }> {
  const connections = new Set<Socket>();
  const server: Server = createServer({ noDelay: true, allowHalfOpen: false }, (sock) => {
    connections.add(sock);
    sock.on('close', () => connections.delete(sock));
    serveConnection(sock, opts, limits);
  });
  // RFC 7766 §10: bounded connections; past the cap new ones are closed by the server.
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.warn({ err }, 'dns: TCP listener error'));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.destroy();
      }),
  };
}

function serveConnection(sock: Socket, opts: DnsListenerOptions, limits: DnsTcpLimits): void {
  const client: DnsClientAddress = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
  const engine = opts.engine;
  let pending: Buffer | null = null;
  let inflight = 0;
  let paused = false;

  const send = (answer: Buffer): void => {
    if (sock.destroyed) return;
    if (answer.length > 0xffff) return;
    const frame = Buffer.allocUnsafe(2 + answer.length);
    frame[0] = answer.length >> 8;
    frame[1] = answer.length & 0xff;
    answer.copy(frame, 2);
    sock.write(frame);
  };

  const flowControl = (): void => {
    const stop = inflight >= limits.maxInflightPerConnection || sock.writableLength > MAX_WRITE_BUFFER;
    if (stop && !paused) {
      paused = true;
      sock.pause();
    } else if (!stop && paused) {
      paused = false;
      sock.resume();
    }
  };

  const settle = (answer: Buffer | null): void => {
    inflight--;
    if (answer !== null) send(answer);
    drainFrames();
  };
  const fail = (err: unknown): void => {
    opts.logger.warn({ err, client: client.address }, 'dns: query failed');
    settle(null);
  };

  function drainFrames(): void {
    while (pending !== null && !sock.destroyed && inflight < limits.maxInflightPerConnection) {
      if (pending.length < 2) break;
      const n = (pending[0]! << 8) | pending[1]!;
      if (n < HEADER_LENGTH || n > MAX_QUERY_LENGTH) {
        sock.destroy();
        return;
      }
      if (pending.length < 2 + n) break;
      const frame = pending.subarray(2, 2 + n);
      pending = pending.length === 2 + n ? null : pending.subarray(2 + n);
      let answer: Buffer | null | Promise<Buffer | null>;
      try {
        answer = engine.handle(frame, client, 'tcp');
      } catch (err) {
        opts.logger.warn({ err, client: client.address }, 'dns: query failed');
        continue;
      }
      if (answer === null) continue;
      if (answer instanceof Uint8Array) send(answer);
      else {
        inflight++;
        answer.then(settle, fail);
      }
    }
    // A partial frame already longer than any query will never become one.
    if (pending !== null && pending.length >= 2 && ((pending[0]! << 8) | pending[1]!) > MAX_QUERY_LENGTH) {
      sock.destroy();
      return;
    }
    flowControl();
  }

  sock.on('data', (chunk: Buffer) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    drainFrames();
  });
  sock.on('drain', flowControl);
  sock.setTimeout(limits.idleTimeoutMs, () => {
    // Idle means nothing read or written; a connection waiting on the upstream is not idle.
    if (inflight === 0) sock.destroy();
  });
  sock.on('error', () => {
    // Resets and timeouts from the peer: the connection just ends.
  });
}
