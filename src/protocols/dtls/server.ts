/**
 * A DTLS 1.2 server (RFC 6347, over TLS 1.2 RFC 5246) written on node:crypto and node:dgram.
 * No npm package offers a standards-compatible DTLS server (the packages found are clients,
 * native bindings, or lack cookie exchange and the CCM_8 suites CoAP needs), so Palisade has its own.
 *
 * Datagram dispatch: a datagram from an address with a live connection goes to it; from any
 * other address only an unfragmented ClientHello is looked at, statelessly: without a valid
 * cookie it is answered with a HelloVerifyRequest (RFC 6347 §4.2.1) and forgotten, so a flood of
 * spoofed ClientHellos allocates nothing. A ClientHello with a valid cookie creates the
 * connection, within caps on peers and on handshakes in progress. Everything else is dropped
 * silently and counted (§4.1.2.7).
 */
import { EventEmitter } from 'node:events';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { SUITES } from './cipher-suites.ts';
import { DtlsConnection, chooseSuite, type ConnectionContext, type ServerMaterial } from './connection.ts';
import { CookieJar } from './cookie.ts';
import { HandshakeType, handshakeMessage, helloVerifyRequest, parseClientHello, parseHandshakeFragments, type ClientHello } from './handshake-codec.ts';
import { parsePemCertificates } from './peer-certificate.ts';
import { ContentType, DTLS10, DTLS12, encodeRecord, parseDatagram, type DtlsRecord } from './record.ts';
import type { DtlsServerOptions, DtlsSession, DtlsStats } from './types.ts';

export type { DtlsIdentity, DtlsServerOptions, DtlsSession, DtlsStats } from './types.ts';

/** The subject DN DER of a certificate, for CertificateRequest.certificate_authorities. */
function subjectDer(cert: X509Certificate): Buffer | null {
  // X509Certificate exposes no raw subject; walk the DER: Certificate → tbsCertificate → fields.
  const der = cert.raw;
  const readHeader = (offset: number): { start: number; end: number } => {
    let len = der[offset + 1]!;
    let start = offset + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[offset + 2 + i]!;
      start = offset + 2 + n;
    }
    return { start, end: start + len };
  };
  try {
    const tbs = readHeader(readHeader(0).start);
    let offset = tbs.start;
    if (der[offset] === 0xa0) offset = readHeader(offset).end; // version
    const skip = ['serial', 'signature', 'issuer', 'validity'];
    for (let i = 0; i < skip.length; i++) offset = readHeader(offset).end;
    const subject = readHeader(offset);
    return der.subarray(offset, subject.end);
  } catch {
    return null;
  }
}

function loadMaterial(cert: DtlsServerOptions['cert']): ServerMaterial | null {
  if (cert === undefined) return null;
  const chain = parsePemCertificates(cert.certPem);
  const trusted = parsePemCertificates(cert.caPem);
  const key = createPrivateKey(cert.keyPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('DTLS server key must be ECDSA P-256');
  // Send the leaf and any intermediates, not the root the client already trusts.
  const intermediates = trusted.filter((ca) => ca.issuer !== ca.subject);
  const chainDer = [...chain, ...intermediates.filter((i) => !chain.some((c) => c.fingerprint256 === i.fingerprint256))].map((c) => c.raw);
  const caSubjectsDer = trusted.map(subjectDer).filter((s): s is Buffer => s !== null);
  return { chainDer, key, trusted, caSubjectsDer };
}

export class DtlsServer extends EventEmitter<{ session: [DtlsSession] }> {
  readonly stats: DtlsStats = {
    datagrams: 0,
    helloVerifyRequests: 0,
    cookieFailures: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    dropped: { malformed: 0, badEpoch: 0, badMac: 0, replay: 0, unexpected: 0, overCapacity: 0, banned: 0 },
    peers: 0,
  };
  readonly #options: DtlsServerOptions;
  readonly #cookies: CookieJar;
  readonly #peers = new Map<string, DtlsConnection>();
  readonly #ctx: ConnectionContext;
  readonly #suites: number[];
  readonly #onMessage: (msg: Buffer, rinfo: { address: string; port: number }) => void;
  #handshaking = 0;
  #closed = false;

  constructor(options: DtlsServerOptions) {
    super();
    this.#options = options;
    this.#cookies = new CookieJar({ rotateMs: options.cookieRotateMs });
    const material = loadMaterial(options.cert);
    this.#suites = (options.suites ?? SUITES.map((s) => s.id)).filter((id) => SUITES.some((s) => s.id === id));
    // Prefer PSK when offered: OpenSSL-based clients offer PSK suites only when they hold a PSK.
    this.#suites.sort((a, b) => Number(SUITES.find((s) => s.id === b)!.keyExchange === 'psk') - Number(SUITES.find((s) => s.id === a)!.keyExchange === 'psk'));
    this.#ctx = {
      options,
      material,
      stats: this.stats,
      send: (datagram, port, address) => this.#send(datagram, port, address),
      established: (conn) => {
        this.#wasEstablished.add(conn);
        this.#handshaking--;
        this.emit('session', conn);
      },
      closed: (conn) => {
        if (this.#peers.get(conn.key) === conn) this.#peers.delete(conn.key);
        if (!this.#wasEstablished.has(conn)) this.#handshaking--;
        this.stats.peers = this.#peers.size;
      },
    };
    this.#onMessage = (msg, rinfo) => {
      // A banned sender costs one lookup: no parsing, no cookie, no answer.
      if (this.#options.dropFrom?.(rinfo.address) === true) {
        this.stats.dropped.banned++;
        return;
      }
      try {
        this.#onDatagram(msg, rinfo.address, rinfo.port);
      } catch (err) {
        // Never let one peer's datagram take the listener down; count it and go on.
        this.stats.dropped.malformed++;
        this.#options.events?.record('dtls.internal_error', 'warning', { source: `${rinfo.address}:${rinfo.port}`, detail: { error: err instanceof Error ? err.message : String(err) } });
      }
    };
    options.socket.on('message', this.#onMessage);
    // Dropped records are counted, not logged one by one (§4.1.2.7: silently); a summary event
    // per period tells operators when it happens without letting a flood write per datagram.
    this.#dropReport = setInterval(() => this.#reportDrops(), options.dropReportMs ?? 10_000);
    this.#dropReport.unref();
  }

  readonly #dropReport: NodeJS.Timeout;
  #lastDrops = { ...this.stats.dropped, cookieFailures: 0 };

  #reportDrops(): void {
    const now = { ...this.stats.dropped, cookieFailures: this.stats.cookieFailures };
    const delta: Record<string, number> = {};
    for (const [k, v] of Object.entries(now)) {
      const d = v - (this.#lastDrops[k as keyof typeof now] ?? 0);
      if (d > 0) delta[k] = d;
    }
    this.#lastDrops = now;
    if (Object.keys(delta).length > 0) this.#options.events?.record('dtls.records_dropped', 'info', { detail: delta });
  }

  readonly #wasEstablished = new WeakSet<DtlsConnection>();

  get sessions(): number {
    return this.#peers.size;
  }

  /**
   * Closes (with close_notify) every established session the predicate picks and returns how
   * many: live revocation, a device moved or disabled (issue 4: live sessions must follow).
   */
  closeSessions(predicate: (session: DtlsSession) => boolean): number {
    let closed = 0;
    for (const conn of [...this.#peers.values()]) {
      if (conn.state === 'established' && predicate(conn)) {
        conn.close();
        closed++;
      }
    }
    return closed;
  }

  /** Sends close_notify to every peer and stops listening (the socket stays the caller's). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#dropReport);
    this.#reportDrops();
    this.#options.socket.off('message', this.#onMessage);
    for (const conn of [...this.#peers.values()]) conn.close();
    this.#peers.clear();
  }

  #send(datagram: Buffer, port: number, address: string): void {
    if (this.#closed && datagram[0] !== ContentType.alert) return;
    this.#options.socket.send(datagram, port, address, () => {
      // Send errors (ICMP unreachable, closed socket) are the peer's loss; retransmission covers transient ones.
    });
  }

  #onDatagram(datagram: Buffer, address: string, port: number): void {
    this.stats.datagrams++;
    const { records, malformed } = parseDatagram(datagram);
    if (malformed) this.stats.dropped.malformed++;
    if (records.length === 0) return;
    const key = `${address}:${port}`;
    const conn = this.#peers.get(key);
    const hello = this.#findClientHello(records);
    if (conn !== undefined) {
      if (hello === null) {
        conn.handleRecords(records);
        return;
      }
      if (conn.isRetransmittedHello(hello.hello)) {
        conn.resendFlight();
        return;
      }
      // A new ClientHello at epoch 0 from a known address: a client that lost its state
      // (RFC 6347 §4.2.8). Run the cookie exchange; the old connection goes only once it verifies.
    } else if (hello === null) {
      this.stats.dropped.unexpected++;
      return;
    }
    this.#onClientHello(hello, address, port, key);
  }

  /** The first epoch-0 handshake record holding one whole ClientHello, or null. */
  #findClientHello(records: DtlsRecord[]): { record: DtlsRecord; hello: ClientHello; messageSeq: number; body: Buffer } | null {
    for (const record of records) {
      if (record.type !== ContentType.handshake || record.epoch !== 0) continue;
      let fragments;
      try {
        fragments = parseHandshakeFragments(record.fragment);
      } catch {
        this.stats.dropped.malformed++;
        continue;
      }
      const first = fragments[0];
      if (first === undefined || first.msgType !== HandshakeType.clientHello) continue;
      // Stateless: a fragmented ClientHello cannot be reassembled without state, so it is dropped (counted by the caller).
      if (first.fragmentOffset !== 0 || first.body.length !== first.length) return null;
      try {
        return { record, hello: parseClientHello(first.body), messageSeq: first.messageSeq, body: first.body };
      } catch {
        this.stats.dropped.malformed++;
        return null;
      }
    }
    return null;
  }

  #onClientHello(found: { record: DtlsRecord; hello: ClientHello; messageSeq: number; body: Buffer }, address: string, port: number, key: string): void {
    const { record, hello, messageSeq, body } = found;
    if (hello.cookie.length === 0 || !this.#cookies.verify(address, port, hello.cookieInput, hello.cookie)) {
      if (hello.cookie.length > 0) this.stats.cookieFailures++;
      // RFC 6347 §4.2.1: HelloVerifyRequest echoes the ClientHello's record and message sequence numbers.
      const cookie = this.#cookies.issue(address, port, hello.cookieInput);
      const hvr = handshakeMessage(HandshakeType.helloVerifyRequest, messageSeq, helloVerifyRequest(cookie));
      this.stats.helloVerifyRequests++;
      this.#send(encodeRecord(ContentType.handshake, DTLS10, 0, record.seq, hvr), port, address);
      return;
    }
    // DTLS versions count down (1.0 = 0xfeff, 1.2 = 0xfefd): a client whose highest is 1.0 is refused.
    if (hello.clientVersion > DTLS12) {
      this.stats.handshakesFailed++;
      this.#options.events?.record('dtls.handshake_failed', 'warning', { source: key, detail: { reason: 'client offers only DTLS 1.0', alert: 'protocol_version' } });
      this.#send(encodeRecord(ContentType.alert, DTLS10, 0, record.seq, Buffer.from([2, 70])), port, address);
      return;
    }
    const existing = this.#peers.get(key);
    if (existing === undefined && (this.#peers.size >= (this.#options.maxPeers ?? 10_000) || this.#handshaking >= (this.#options.maxHandshakes ?? 1000))) {
      this.stats.dropped.overCapacity++;
      this.#options.events?.record('dtls.capacity', 'warning', { source: key, detail: { peers: this.#peers.size, handshaking: this.#handshaking } });
      return;
    }
    const suite = chooseSuite(hello, this.#suites, this.#options.psk !== undefined, this.#ctx.material !== null);
    if (suite === null) {
      this.stats.handshakesFailed++;
      this.#options.events?.record('dtls.handshake_failed', 'warning', { source: key, detail: { reason: 'no shared cipher suite', alert: 'handshake_failure', offered: hello.cipherSuites.slice(0, 32) } });
      this.#send(encodeRecord(ContentType.alert, DTLS12, 0, record.seq, Buffer.from([2, 40])), port, address);
      return;
    }
    if (existing !== undefined) existing.replaced();
    this.stats.handshakesStarted++;
    this.#handshaking++;
    const conn = new DtlsConnection(this.#ctx, { address, port }, suite, hello, handshakeMessage(HandshakeType.clientHello, messageSeq, body), messageSeq, record.seq);
    if (conn.state !== 'closed') this.#peers.set(key, conn);
    this.stats.peers = this.#peers.size;
  }
}
