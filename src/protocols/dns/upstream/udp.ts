/**
 * Queries over UDP (RFC 1035 §4.2.1) to one upstream, from a rotating random source port.
 *
 * RFC 5452 §9.2: the source port must be unpredictable. Each socket is bound to port 0, and
 * Linux picks the port at random from the ephemeral range (udp_lib_get_port starts its search at
 * a random offset). A socket carries at most `queriesPerPort` queries (distinct random ids) and
 * lives at most `portMaxAgeMs`; then a new socket on a new random port takes over and the old
 * one is closed once its queries are answered. A blind attacker's odds per forged reply are
 * (queries in flight) / (ports x 65536) whether every query has its own port or a few share one;
 * sharing matters only to an attacker who learns a port, and then for at most `queriesPerPort`
 * queries. queriesPerPort = 1 gives every query its own socket. Measured on loopback (2 shared
 * cores, 32 concurrent): a socket per query costs ~70-78 us of CPU per query, one port per 16
 * queries ~30-35 us, the same as one fixed port (~30-36 us through this class) within noise.
 *
 * Each socket is connect()ed to the upstream, so the kernel drops datagrams from any other
 * address or port, and ICMP unreachable comes back as an error (a dead upstream fails fast).
 * A reply is accepted only if it comes from the upstream's address and port, carries the id of a
 * query in flight on that socket, has QR=1 and repeats that query's question (RFC 5452 §3);
 * anything else is dropped and the wait goes on.
 */
import { createSocket, type Socket } from 'node:dgram';
import { AttemptFailure, addressKey, type UpstreamTarget } from './target.ts';
import { decodes, isResponse, isTruncated, questionKey, randomId, withId } from './wire.ts';
import { HEADER_LENGTH } from '../wire.ts';

export type UdpResult = { readonly kind: 'answer'; readonly message: Buffer } | { readonly kind: 'truncated' };

export interface UdpExchangeOptions {
  /** The caller's query; copied, our id is written into the copy. */
  query: Buffer;
  /** questionKey() of the query. */
  question: string;
  timeoutMs: number;
}

export interface UdpUpstreamOptions {
  target: UpstreamTarget;
  queriesPerPort: number;
  portMaxAgeMs: number;
  /** Called for each dropped reply (for the spoofing telemetry). */
  onMismatch(reason: string): void;
}

interface Waiter {
  readonly question: string;
  readonly resolve: (r: UdpResult) => void;
  readonly reject: (err: AttemptFailure) => void;
  readonly timer: NodeJS.Timeout;
}

interface Port {
  readonly socket: Socket;
  readonly pending: Map<number, Waiter>;
  /** Ids that timed out on this port (at most queriesPerPort): their late replies are no spoofs. */
  readonly expired: Set<number>;
  readonly born: number;
  uses: number;
  retired: boolean;
  closed: boolean;
  connected: boolean;
  idle: NodeJS.Timeout | undefined;
}

export class UdpUpstream {
  readonly #o: UdpUpstreamOptions;
  #current: Port | null = null;
  readonly #open = new Set<Port>();
  #closed = false;

  constructor(o: UdpUpstreamOptions) {
    this.#o = o;
  }

  /** Sockets open now (tests). */
  get openPorts(): number {
    return this.#open.size;
  }

  exchange(o: UdpExchangeOptions): Promise<UdpResult> {
    if (this.#closed) return Promise.reject(new AttemptFailure('closed'));
    let port: Port;
    try {
      port = this.#pick();
    } catch (err) {
      // EMFILE and the like: this attempt fails, the next upstream (or stale) may still answer.
      return Promise.reject(new AttemptFailure(`udp socket: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
    }
    let id = randomId();
    while (port.pending.has(id)) id = randomId();
    return new Promise<UdpResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        port.expired.add(id);
        this.#settle(port, id, new AttemptFailure('timeout'));
      }, o.timeoutMs);
      port.pending.set(id, { question: o.question, resolve, reject, timer });
      const sent = (err: Error | null): void => {
        if (err) this.#settle(port, id, new AttemptFailure(`udp send: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      };
      const wire = withId(o.query, id);
      if (port.connected) port.socket.send(wire, sent);
      else port.socket.send(wire, this.#o.target.port, this.#o.target.address, sent);
    });
  }

  /** Fails every query in flight ('closed') and closes the sockets. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#open]) this.#fail(p, 'closed');
  }

  #pick(): Port {
    const c = this.#current;
    if (c !== null && !c.retired && c.uses < this.#o.queriesPerPort && Date.now() - c.born < this.#o.portMaxAgeMs) {
      c.uses++;
      if (c.idle !== undefined) {
        clearTimeout(c.idle);
        c.idle = undefined;
      }
      return c;
    }
    if (c !== null) this.#retire(c);
    const p = this.#bind();
    p.uses = 1;
    this.#current = p;
    return p;
  }

  #bind(): Port {
    const t = this.#o.target;
    const socket = createSocket(t.family === 6 ? 'udp6' : 'udp4');
    const p: Port = { socket, pending: new Map(), expired: new Set(), born: Date.now(), uses: 0, retired: false, closed: false, connected: false, idle: undefined };
    socket.on('message', (msg, rinfo) => this.#onMessage(p, msg, rinfo.address, rinfo.port));
    socket.on('error', (err: NodeJS.ErrnoException) => this.#fail(p, `udp: ${err.code ?? err.message}`));
    // Node >= 24.19: binds to a random ephemeral port and connects in one step, with no extra
    // tick. Older: the socket stays unconnected (bound at the first send) and the source check
    // in #onMessage is the only filter.
    if (typeof socket.connectSync === 'function') {
      try {
        socket.connectSync(t.port, t.address);
        p.connected = true;
      } catch (err) {
        socket.close();
        throw err;
      }
    }
    // An idle socket does not keep the process alive.
    socket.unref();
    this.#open.add(p);
    return p;
  }

  #onMessage(p: Port, msg: Buffer, address: string, port: number): void {
    const t = this.#o.target;
    // The kernel already filters on the connected peer; checked again so a change of transport
    // (an unconnected socket) cannot silently drop the rule.
    if (port !== t.port || (address !== t.address && addressKey(address) !== t.addressKey)) return this.#o.onMismatch('source');
    if (msg.length < HEADER_LENGTH || !isResponse(msg)) return this.#o.onMismatch('id');
    const id = msg.readUInt16BE(0);
    const w = p.pending.get(id);
    // A late answer to a query that timed out is dropped quietly; an unknown id is a spoof sign.
    if (w === undefined) return p.expired.has(id) ? undefined : this.#o.onMismatch('id');
    if (questionKey(msg) !== w.question) return this.#o.onMismatch('question');
    // RFC 7766 §5 (and RFC 1035 §4.2.1): a truncated answer is retried over TCP; its sections
    // may be cut anywhere, so it is not decoded.
    if (isTruncated(msg)) return this.#settle(p, id, null, { kind: 'truncated' });
    // From the right peer with the right id and question, but broken: the upstream is faulty
    // (or a spoofer guessed both); either way this attempt is over, not hanging.
    if (!decodes(msg)) return this.#settle(p, id, new AttemptFailure('malformed answer'));
    this.#settle(p, id, null, { kind: 'answer', message: msg });
  }

  #settle(p: Port, id: number, err: AttemptFailure | null, result?: UdpResult): void {
    const w = p.pending.get(id);
    if (w === undefined) return;
    p.pending.delete(id);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(result as UdpResult);
    if (p.pending.size > 0) return;
    if (p.retired) this.#shut(p);
    else {
      clearTimeout(p.idle);
      // Nothing in flight: the port is closed when its age runs out unless a query comes first.
      p.idle = setTimeout(() => this.#retire(p), Math.max(0, this.#o.portMaxAgeMs - (Date.now() - p.born)));
      p.idle.unref();
    }
  }

  #retire(p: Port): void {
    p.retired = true;
    if (this.#current === p) this.#current = null;
    if (p.pending.size === 0) this.#shut(p);
  }

  /** A socket error (ICMP unreachable on the connected socket): its queries fail, the port goes. */
  #fail(p: Port, reason: string): void {
    this.#retire(p);
    for (const id of [...p.pending.keys()]) this.#settle(p, id, new AttemptFailure(reason));
    this.#shut(p);
  }

  #shut(p: Port): void {
    if (p.closed) return;
    p.closed = true;
    clearTimeout(p.idle);
    this.#open.delete(p);
    p.socket.close();
  }
}
