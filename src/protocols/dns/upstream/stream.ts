/**
 * DNS over TCP (RFC 7766) and over TLS (RFC 7858) to one upstream: one connection kept open and
 * shared, queries pipelined on it with distinct random ids (RFC 7766 §6.2.1.1), answers matched
 * by id and question whatever order they come back in. Messages carry a 2-byte length prefix
 * (RFC 1035 §4.2.2). The connection is opened on demand, closed after `idleMs` with nothing in
 * flight (RFC 7766 §6.2.3: clients close idle connections), and reopened after the server closes
 * it; a query whose connection closed under it is sent once more on a fresh one (RFC 7766 §6.2.1:
 * the server may close at any time).
 *
 * TLS verifies the upstream's certificate against tlsServerName (or its IP address) and the
 * system CAs or tlsCaFile; a failed verification fails the attempt, never downgrades it.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AttemptFailure, type UpstreamTarget } from './target.ts';
import { decodes, isResponse, questionKey, randomId } from './wire.ts';
import { HEADER_LENGTH } from '../wire.ts';

interface Pending {
  readonly query: Buffer;
  readonly question: string;
  readonly resolve: (answer: Buffer) => void;
  readonly reject: (err: AttemptFailure) => void;
  readonly timer: NodeJS.Timeout;
  /** Already re-sent once after its connection closed. */
  resent: boolean;
  /** Where it is in flight now, under which id. */
  conn: Connection | null;
  id: number;
}

interface Connection {
  readonly socket: Socket;
  readonly pending: Map<number, Pending>;
  /** Ids that timed out on this connection (bounded): their late answers are no spoofs. */
  readonly expired: Set<number>;
  /** TCP connected, or TLS handshake done and verified. */
  established: boolean;
  input: Buffer;
  idle: NodeJS.Timeout | undefined;
}

export interface StreamExchangeOptions {
  query: Buffer;
  question: string;
  timeoutMs: number;
}

export interface StreamUpstreamOptions {
  target: UpstreamTarget;
  tls: boolean;
  idleMs: number;
  /** Called for each dropped answer (for the spoofing telemetry). */
  onMismatch(reason: string): void;
  /** Called when a TLS handshake fails (certificate not trusted, wrong name). */
  onTlsFailure(reason: string): void;
}

/** RFC 1035 §4.2.2: the length prefix is 16 bits. */
const MAX_MESSAGE = 65_535;
const MAX_EXPIRED = 4096;

export class StreamUpstream {
  readonly #o: StreamUpstreamOptions;
  #conn: Connection | null = null;
  #closed = false;
  /** RFC 7858 §3.4: resume the last TLS session on reconnect (one round trip, no key exchange). */
  #tlsSession: Buffer | undefined;

  constructor(o: StreamUpstreamOptions) {
    this.#o = o;
  }

  exchange(o: StreamExchangeOptions): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new AttemptFailure('closed'));
    if (o.query.length > MAX_MESSAGE) return Promise.reject(new AttemptFailure('query too large'));
    return new Promise<Buffer>((resolve, reject) => {
      let p: Pending | null = null;
      const drop = (err: AttemptFailure): void => {
        if (p === null) return;
        this.#forget(p);
        clearTimeout(p.timer);
        reject(err);
      };
      const timer = setTimeout(() => {
        const c = p?.conn;
        // Not even connected (a black-holed address, a stalled handshake) in a whole attempt's
        // time: give the connection up, so the next query starts a fresh one.
        if (c && !c.established) return this.#fail(c, this.#o.tls ? 'tls: connect timeout' : 'tcp: connect timeout', false);
        if (c) {
          if (c.expired.size >= MAX_EXPIRED) c.expired.clear();
          c.expired.add(p!.id);
        }
        drop(new AttemptFailure('timeout'));
      }, o.timeoutMs);
      p = { query: o.query, question: o.question, resolve, reject, timer, resent: false, conn: null, id: 0 };
      this.#send(p);
    });
  }

  /** Queries in flight on the current connection (tests, stats). */
  get inFlight(): number {
    return this.#conn?.pending.size ?? 0;
  }

  /** Fails every query in flight ('closed') and closes the connection. */
  close(): void {
    this.#closed = true;
    const c = this.#conn;
    this.#conn = null;
    if (c) this.#fail(c, 'closed', false);
  }

  #send(p: Pending): void {
    const c = this.#conn ?? this.#open();
    if (c.idle !== undefined) {
      clearTimeout(c.idle);
      c.idle = undefined;
      c.socket.ref();
    }
    // RFC 7766 §6.2.1.1: ids must be unique among the queries in flight on one connection.
    let id = randomId();
    while (c.pending.has(id)) id = randomId();
    c.pending.set(id, p);
    p.conn = c;
    p.id = id;
    const frame = Buffer.allocUnsafe(2 + p.query.length);
    frame.writeUInt16BE(p.query.length, 0);
    p.query.copy(frame, 2);
    frame.writeUInt16BE(id, 2);
    // Written whole in one call (RFC 7766 §8: length and message together). Node buffers it
    // until the connection (and the TLS handshake) is up; the in-flight cap bounds that buffer.
    c.socket.write(frame);
  }

  #open(): Connection {
    const t = this.#o.target;
    const socket = this.#o.tls
      ? tlsConnect({
          host: t.address,
          port: t.port,
          // SNI only for a name (RFC 6066 §3 forbids IP literals); without one, Node checks the
          // certificate's IP SANs against the address.
          ...(t.tlsServerName !== null ? { servername: t.tlsServerName } : {}),
          ...(t.tlsCa !== null ? { ca: t.tlsCa } : {}),
          minVersion: 'TLSv1.2',
          ...(this.#tlsSession !== undefined ? { session: this.#tlsSession } : {}),
          // RFC 7858 §3.3 / RFC 8310: strict privacy profile, the certificate must verify.
          rejectUnauthorized: true,
        })
      : tcpConnect({ host: t.address, port: t.port });
    const c: Connection = { socket, pending: new Map(), expired: new Set(), established: false, input: Buffer.alloc(0), idle: undefined };
    this.#conn = c;
    socket.setNoDelay(true);
    socket.once(this.#o.tls ? 'secureConnect' : 'connect', () => {
      c.established = true;
    });
    socket.on('data', (chunk: Buffer) => this.#onData(c, chunk));
    socket.on('session', (session: Buffer) => {
      this.#tlsSession = session;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reason = `${this.#o.tls ? 'tls' : 'tcp'}: ${err.code ?? err.message}`;
      if (this.#o.tls && !c.established) {
        this.#tlsSession = undefined;
        this.#o.onTlsFailure(err.code ?? err.message);
      }
      this.#fail(c, reason, true);
    });
    socket.on('close', () => this.#fail(c, 'connection closed', true));
    return c;
  }

  #onData(c: Connection, chunk: Buffer): void {
    c.input = c.input.length === 0 ? chunk : Buffer.concat([c.input, chunk]);
    while (c.input.length >= 2) {
      const len = c.input.readUInt16BE(0);
      if (c.input.length < 2 + len) return;
      // Copied: the caller keeps the answer, and it must not pin the whole read buffer.
      const msg = Buffer.from(c.input.subarray(2, 2 + len));
      c.input = c.input.subarray(2 + len);
      this.#onMessage(c, msg);
    }
  }

  #onMessage(c: Connection, msg: Buffer): void {
    if (msg.length < HEADER_LENGTH || !isResponse(msg)) return this.#o.onMismatch('id');
    const id = msg.readUInt16BE(0);
    const p = c.pending.get(id);
    // A late answer to a query that timed out is dropped quietly; an unknown id is a confused
    // (or compromised) server.
    if (p === undefined) return c.expired.has(id) ? undefined : this.#o.onMismatch('id');
    if (questionKey(msg) !== p.question) return this.#o.onMismatch('question');
    c.pending.delete(id);
    this.#settle(c, p);
    if (!decodes(msg)) p.reject(new AttemptFailure('malformed answer'));
    else p.resolve(msg);
  }

  /** Stops a query's timer and listener; starts the idle timer when it was the last in flight. */
  #settle(c: Connection, p: Pending): void {
    clearTimeout(p.timer);
    if (c.pending.size === 0 && c === this.#conn && !this.#closed) {
      c.idle = setTimeout(() => {
        if (c.pending.size === 0) this.#retire(c);
      }, this.#o.idleMs);
      c.idle.unref();
      // An idle connection does not keep the process alive.
      c.socket.unref();
    }
  }

  #forget(p: Pending): void {
    const c = p.conn;
    if (c === null || c.pending.get(p.id) !== p) return;
    c.pending.delete(p.id);
    this.#settle(c, p);
  }

  #retire(c: Connection): void {
    if (this.#conn === c) this.#conn = null;
    clearTimeout(c.idle);
    // FIN (and TLS close_notify) once written, then the socket is gone.
    c.socket.destroySoon();
  }

  /** The connection ended: its queries are re-sent once on a new one if it had been up, else fail. */
  #fail(c: Connection, reason: string, mayResend: boolean): void {
    if (this.#conn === c) this.#conn = null;
    clearTimeout(c.idle);
    c.socket.destroy();
    const orphans = [...c.pending.values()];
    c.pending.clear();
    for (const p of orphans) {
      if (mayResend && c.established && !p.resent && !this.#closed) {
        p.resent = true;
        this.#send(p);
      } else {
        clearTimeout(p.timer);
        p.reject(new AttemptFailure(reason));
      }
    }
  }
}
