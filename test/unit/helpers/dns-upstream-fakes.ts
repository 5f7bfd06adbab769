/**
 * Fake upstream DNS servers on loopback for the forwarder tests (test/unit/dns-upstream*.test.ts):
 * real UDP, TCP and TLS sockets on ephemeral ports, answering with dns-packet as each test's
 * handler decides, and recording what arrived (ids, source ports, connections).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import * as dnsPacket from 'dns-packet';

export interface FakeQuery {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly raw: Buffer;
  /** Source address and port (UDP), or the connection's (TCP/TLS). */
  readonly address: string;
  readonly port: number;
  /** Which TCP/TLS connection carried it (0, 1, ...); -1 for UDP. */
  readonly connection: number;
}

export interface ReplyContext {
  send(msg: Buffer): void;
  /** UDP only: send from a second socket (another source port) to the querier. */
  sendFromOtherPort(msg: Buffer): void;
}

export type Handler = (q: FakeQuery, ctx: ReplyContext) => void;

export interface AnswerOptions {
  address?: string;
  rcode?: number;
  tc?: boolean;
  id?: number;
  name?: string;
  ttl?: number;
}

/** A response to `q`: one A record (unless an rcode other than 0 or TC is asked for). */
export function answer(q: FakeQuery, o: AnswerOptions = {}): Buffer {
  const name = o.name ?? q.name;
  const rcode = o.rcode ?? 0;
  const answers: dnsPacket.Answer[] = rcode === 0 && !o.tc ? [{ type: 'A', name, ttl: o.ttl ?? 60, class: 'IN', data: o.address ?? '192.0.2.1' }] : [];
  return dnsPacket.encode({
    type: 'response',
    id: o.id ?? q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcode,
    questions: [{ type: q.type as 'A', name, class: 'IN' }],
    answers,
  });
}

/** A query as the DNS engine would hand it over. */
export function query(name: string, id = 0x4242, type: 'A' | 'AAAA' | 'TXT' = 'A'): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

export function decoded(msg: Buffer): dnsPacket.DecodedPacket {
  return dnsPacket.decode(msg);
}

function parse(raw: Buffer, address: string, port: number, connection: number): FakeQuery | null {
  try {
    const p = dnsPacket.decode(raw);
    const q = p.questions?.[0];
    if (!q) return null;
    return { id: p.id ?? 0, name: q.name, type: q.type, raw, address, port, connection };
  } catch {
    return null;
  }
}

export interface FakeServer {
  readonly port: number;
  readonly queries: FakeQuery[];
  /** TCP/TLS: connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFakeUdp(handler: Handler): Promise<FakeServer> {
  const main = createSocket('udp4');
  const other = createSocket('udp4');
  const queries: FakeQuery[] = [];
  main.on('message', (raw, rinfo) => {
    const q = parse(raw, rinfo.address, rinfo.port, -1);
    if (q === null) return;
    queries.push(q);
    handler(q, {
      send: (m) => main.send(m, rinfo.port, rinfo.address),
      sendFromOtherPort: (m) => other.send(m, rinfo.port, rinfo.address),
    });
  });
  await Promise.all([bind(main), bind(other)]);
  let closed = false;
  return {
    port: main.address().port,
    queries,
    connections: 0,
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([new Promise<void>((r) => main.close(() => r())), new Promise<void>((r) => other.close(() => r()))]);
    },
  };
}

function bind(s: UdpSocket): Promise<void> {
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
}

export interface StreamFakeOptions {
  tls?: { key: string; cert: string };
}

/** A TCP (or TLS) DNS server: 2-byte length framing (RFC 1035 §4.2.2). */
export async function startFakeStream(handler: Handler, o: StreamFakeOptions = {}): Promise<FakeServer & { sockets: Set<Socket>; resumed: boolean[] }> {
  const queries: FakeQuery[] = [];
  /** TLS: per connection, whether the client resumed an earlier session. */
  const resumed: boolean[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const onConnection = (socket: Socket): void => {
    const n = connections++;
    if (socket instanceof TLSSocket) resumed.push(socket.isSessionReused());
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let input = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      while (input.length >= 2 && input.length >= 2 + input.readUInt16BE(0)) {
        const raw = input.subarray(2, 2 + input.readUInt16BE(0));
        input = input.subarray(2 + raw.length);
        const q = parse(Buffer.from(raw), socket.remoteAddress ?? '', socket.remotePort ?? 0, n);
        if (q === null) continue;
        queries.push(q);
        const send = (m: Buffer): void => {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(m.length);
          if (!socket.destroyed) socket.write(Buffer.concat([len, m]));
        };
        handler(q, { send, sendFromOtherPort: send });
      }
    });
  };
  const server: Server = o.tls ? createTlsServer({ key: o.tls.key, cert: o.tls.cert }, onConnection) : createTcpServer(onConnection);
  // A client that fails the handshake shows here; the fake must not crash on it.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    queries,
    sockets,
    resumed,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
