/**
 * The CoAP message layer of the server (RFC 7252 §4), independent of the transport: UDP and
 * DTLS both hand datagrams to one CoapEndpoint with a CoapPeer to answer through.
 *
 * - CON requests are answered piggybacked in the ACK; when the handler takes longer than
 *   `separateAfterMs` (below ACK_TIMEOUT, so the client does not retransmit) an empty ACK goes
 *   first and the response follows as a CON of its own, retransmitted (§5.2.2, §4.2).
 * - NON requests get NON responses (§5.2.3).
 * - Duplicates by (peer, message id) within EXCHANGE_LIFETIME replay the cached response (§4.5).
 * - Format errors in a CON are rejected with RST; in a NON they are dropped (§4.2, §4.3).
 * - An unmatched ACK/RST is ignored; a response, empty CON (ping) or reserved code in a CON is
 *   answered with RST (§4.2, §4.3).
 * - A peer has at most `maxConcurrentPerPeer` requests in processing; more get 5.03, so one
 *   peer cannot hold all the handler capacity.
 */
import { randomInt } from 'node:crypto';
import { Code, MessageType, Transmission } from './constants.ts';
import { decode, encode, uintOption, type CoapMessage, type CoapOption } from './codec.ts';
import { DedupCache, type DedupEntry } from './dedup.ts';
import { Retransmitter, type TransmissionParams } from './retransmit.ts';

export interface CoapPeer {
  /** Unique per transport association: `udp:addr:port`, `dtls:addr:port`. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  send(datagram: Buffer): void;
}

export interface CoapResponse {
  code: number;
  options?: CoapOption[];
  payload?: Buffer;
  /** Runs once the response is on the wire (an observation starts notifying only after it). */
  afterSend?: () => void;
}

export interface IncomingRequest {
  peer: CoapPeer;
  message: CoapMessage;
}

export type RequestHandler = (req: IncomingRequest) => Promise<CoapResponse>;

export interface EndpointOptions extends TransmissionParams {
  separateAfterMs: number;
  exchangeLifetimeMs: number;
  nonLifetimeMs: number;
  /** Recent exchanges remembered per peer, and peers remembered (dedup.ts). */
  maxDedupPerPeer: number;
  maxDedupPeers: number;
  maxConcurrentPerPeer: number;
  /** Our CONs (separate responses, notifications) in flight to one peer. */
  maxConInFlightPerPeer: number;
  /** A protocol-level refusal worth a security event (the caller rate-limits). */
  onRejected?: (peer: CoapPeer, reason: string) => void;
  /** An RST from the peer for a message we sent carrying `token` (e.g. a notification, RFC 7641 §3.6). */
  onReset?: (peer: CoapPeer, token: Buffer) => void;
  onHandlerError?: (err: unknown) => void;
}

export const DEFAULT_ENDPOINT_OPTIONS: EndpointOptions = {
  ackTimeoutMs: Transmission.ACK_TIMEOUT,
  ackRandomFactor: Transmission.ACK_RANDOM_FACTOR,
  maxRetransmit: Transmission.MAX_RETRANSMIT,
  separateAfterMs: 1000,
  exchangeLifetimeMs: Transmission.EXCHANGE_LIFETIME,
  nonLifetimeMs: Transmission.NON_LIFETIME,
  maxDedupPerPeer: 256,
  maxDedupPeers: 50_000,
  maxConcurrentPerPeer: 32,
  maxConInFlightPerPeer: 16,
};

const EMPTY = Buffer.alloc(0);

interface PendingExchange {
  peer: CoapPeer;
  messageId: number;
  entry: DedupEntry;
  startedAt: number;
  acked: boolean;
}

export class CoapEndpoint {
  readonly #opts: EndpointOptions;
  readonly #handler: RequestHandler;
  readonly #dedup: DedupCache;
  readonly #retransmit: Retransmitter;
  readonly #busy = new Map<string, number>();
  /** Message id of each message we sent lately, to map an RST back to its token (bounded). */
  readonly #sentTokens = new Map<string, Buffer>();
  /** CON requests still in processing; one coarse timer sends their empty ACKs (no timer per request). */
  readonly #slow = new Set<PendingExchange>();
  #slowTimer: NodeJS.Timeout | null = null;
  #nextMid = randomInt(0, 0x10000);
  #closed = false;

  constructor(handler: RequestHandler, opts: Partial<EndpointOptions> = {}) {
    this.#opts = { ...DEFAULT_ENDPOINT_OPTIONS, ...opts };
    this.#handler = handler;
    this.#dedup = new DedupCache(this.#opts.maxDedupPerPeer, this.#opts.maxDedupPeers);
    this.#retransmit = new Retransmitter(this.#opts);
  }

  get dedupSize(): number {
    return this.#dedup.size;
  }

  get pendingConfirmables(): number {
    return this.#retransmit.size;
  }

  nextMessageId(): number {
    this.#nextMid = (this.#nextMid + 1) & 0xffff;
    return this.#nextMid;
  }

  receive(peer: CoapPeer, datagram: Buffer): void {
    if (this.#closed) return;
    const r = decode(datagram);
    if (r.kind === 'ignore') return;
    if (r.kind === 'format-error') {
      this.#opts.onRejected?.(peer, r.reason);
      if (r.type === MessageType.CON) this.#sendRst(peer, r.messageId);
      return;
    }
    const m = r.message;
    if (m.type === MessageType.ACK || m.type === MessageType.RST) {
      const outcome = m.type === MessageType.ACK ? 'ack' : 'reset';
      this.#retransmit.settle(peer.key, m.messageId, outcome);
      if (outcome === 'reset') {
        const key = `${peer.key}#${m.messageId}`;
        const token = this.#sentTokens.get(key);
        if (token) this.#opts.onReset?.(peer, token);
      }
      return;
    }
    const cls = m.code >> 5;
    if (m.code === Code.EMPTY || cls !== 0) {
      // CoAP ping (§4.3), a response to a request we never sent, or a reserved class: RST a CON.
      if (m.type === MessageType.CON) this.#sendRst(peer, m.messageId);
      if (cls !== 0 && cls !== 2 && cls !== 4 && cls !== 5) this.#opts.onRejected?.(peer, `reserved code class ${cls}`);
      return;
    }
    this.#request(peer, m);
  }

  #request(peer: CoapPeer, m: CoapMessage): void {
    const now = Date.now();
    const seen = this.#dedup.get(peer.key, m.messageId, now);
    if (seen) {
      // §4.5: the same response again; nothing while the first copy is still processing.
      if (seen.response) peer.send(seen.response);
      return;
    }
    const busy = this.#busy.get(peer.key) ?? 0;
    if (busy >= this.#opts.maxConcurrentPerPeer) {
      this.#opts.onRejected?.(peer, 'too many concurrent requests');
      this.#respondNow(peer, m, { code: Code.SERVICE_UNAVAILABLE, options: [{ number: 14, value: uintOption(1) }] });
      return;
    }
    const entry = this.#dedup.add(peer.key, m.messageId, m.type === MessageType.CON ? this.#opts.exchangeLifetimeMs : this.#opts.nonLifetimeMs, now);
    this.#busy.set(peer.key, busy + 1);
    const pending: PendingExchange | null = m.type === MessageType.CON ? { peer, messageId: m.messageId, entry, startedAt: now, acked: false } : null;
    if (pending) this.#watchSlow(pending);
    const finish = (res: CoapResponse): void => {
      if (pending) this.#slow.delete(pending);
      const left = (this.#busy.get(peer.key) ?? 1) - 1;
      if (left <= 0) this.#busy.delete(peer.key);
      else this.#busy.set(peer.key, left);
      if (this.#closed) return;
      if (pending && !pending.acked) {
        const ack = encode({ type: MessageType.ACK, code: res.code, messageId: m.messageId, token: m.token, options: res.options ?? [], payload: res.payload ?? EMPTY });
        entry.response = ack;
        peer.send(ack);
      } else if (pending) {
        this.sendConfirmable(peer, m.token, res, () => undefined);
      } else {
        const non = encode({ type: MessageType.NON, code: res.code, messageId: this.nextMessageId(), token: m.token, options: res.options ?? [], payload: res.payload ?? EMPTY });
        entry.response = non;
        peer.send(non);
      }
      res.afterSend?.();
    };
    let p: Promise<CoapResponse>;
    try {
      p = this.#handler({ peer, message: m });
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    p.then(finish, (err: unknown) => {
      this.#opts.onHandlerError?.(err);
      finish({ code: Code.INTERNAL_SERVER_ERROR });
    });
  }

  #watchSlow(p: PendingExchange): void {
    this.#slow.add(p);
    if (this.#slowTimer) return;
    const tick = Math.max(5, Math.min(100, Math.floor(this.#opts.separateAfterMs / 4)));
    this.#slowTimer = setInterval(() => {
      const due = Date.now() - this.#opts.separateAfterMs;
      for (const x of this.#slow) {
        if (x.startedAt > due) continue;
        // §5.2.2: an empty ACK now, so the client stops retransmitting; the response follows as CON.
        this.#slow.delete(x);
        x.acked = true;
        const ack = encode({ type: MessageType.ACK, code: Code.EMPTY, messageId: x.messageId, token: EMPTY, options: [], payload: EMPTY });
        x.entry.response = ack;
        x.peer.send(ack);
      }
      if (this.#slow.size === 0 && this.#slowTimer) {
        clearInterval(this.#slowTimer);
        this.#slowTimer = null;
      }
    }, tick);
    this.#slowTimer.unref();
  }

  /** A response outside the exchange machinery (e.g. a refusal before processing). */
  #respondNow(peer: CoapPeer, m: CoapMessage, res: CoapResponse): void {
    const type = m.type === MessageType.CON ? MessageType.ACK : MessageType.NON;
    const messageId = type === MessageType.ACK ? m.messageId : this.nextMessageId();
    peer.send(encode({ type, code: res.code, messageId, token: m.token, options: res.options ?? [], payload: res.payload ?? EMPTY }));
  }

  /**
   * Sends a CON (separate response or notification) with retransmission; `done` learns whether
   * the peer acknowledged it. Refused (done('busy')) when the peer already has
   * maxConInFlightPerPeer of ours outstanding.
   */
  sendConfirmable(peer: CoapPeer, token: Buffer, res: CoapResponse, done: (outcome: 'ack' | 'reset' | 'timeout' | 'cancelled' | 'busy') => void): void {
    if (this.#closed) return done('cancelled');
    if (this.#retransmit.inFlight(peer.key) >= this.#opts.maxConInFlightPerPeer) return done('busy');
    const messageId = this.nextMessageId();
    this.#rememberToken(peer, messageId, token);
    const d = encode({ type: MessageType.CON, code: res.code, messageId, token, options: res.options ?? [], payload: res.payload ?? EMPTY });
    this.#retransmit.start(peer.key, messageId, d, (b) => peer.send(b), done);
  }

  sendNonConfirmable(peer: CoapPeer, token: Buffer, res: CoapResponse): void {
    if (this.#closed) return;
    const messageId = this.nextMessageId();
    this.#rememberToken(peer, messageId, token);
    peer.send(encode({ type: MessageType.NON, code: res.code, messageId, token, options: res.options ?? [], payload: res.payload ?? EMPTY }));
  }

  /** The transport association ended (DTLS session closed). */
  forgetPeer(peerKey: string): void {
    this.#retransmit.cancelPeer(peerKey);
    this.#busy.delete(peerKey);
    this.#dedup.dropPeer(peerKey);
  }

  close(): void {
    this.#closed = true;
    if (this.#slowTimer) clearInterval(this.#slowTimer);
    this.#slowTimer = null;
    this.#slow.clear();
    this.#retransmit.close();
    this.#dedup.clear();
    this.#sentTokens.clear();
  }

  #rememberToken(peer: CoapPeer, messageId: number, token: Buffer): void {
    const key = `${peer.key}#${messageId}`;
    this.#sentTokens.delete(key);
    this.#sentTokens.set(key, token);
    // Bounded: RSTs come within EXCHANGE_LIFETIME; 65536 ids cover far more than that window needs.
    if (this.#sentTokens.size > 65_536) {
      const oldest = this.#sentTokens.keys().next();
      if (oldest.done !== true) this.#sentTokens.delete(oldest.value);
    }
  }

  #sendRst(peer: CoapPeer, messageId: number): void {
    peer.send(encode({ type: MessageType.RST, code: Code.EMPTY, messageId, token: EMPTY, options: [], payload: EMPTY }));
  }
}
