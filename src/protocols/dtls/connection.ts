/**
 * One peer of the DTLS server, from the verified-cookie ClientHello to close: the server side
 * of the TLS 1.2 handshake (RFC 5246 §7.3) in its DTLS form (RFC 6347 §4.2), then the session.
 *
 * Flights, PSK:    ClientHello → ServerHello, ServerHelloDone → ClientKeyExchange, [CCS], Finished → [CCS], Finished
 * Flights, ECDHE:  ClientHello → ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone
 *                  → Certificate, ClientKeyExchange, CertificateVerify, [CCS], Finished → [CCS], Finished
 * The client must present a device certificate in the ECDHE suites: a device's identity is the
 * certificate, so there is no anonymous ECDHE. Renegotiation is refused (no_renegotiation).
 */
import { createECDH, createHash, randomBytes, sign, timingSafeEqual, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { AlertDescription, AlertLevel, encodeAlert, type AlertName } from './alerts.ts';
import { AeadState, suiteById, type CipherSuite } from './cipher-suites.ts';
import { FlightTimer } from './flight.ts';
import {
  ECDSA_SECP256R1_SHA256,
  Extension,
  HandshakeType,
  NAMED_CURVE_SECP256R1,
  certificateMessage,
  certificateRequest,
  ecdheParams,
  fragmentMessage,
  handshakeMessage,
  parseCertificate,
  parseCertificateVerify,
  parseEcdheClientKeyExchange,
  parseHandshakeFragments,
  parsePskClientKeyExchange,
  parseU16List,
  serverHello,
  serverKeyExchangeEcdhe,
  type ClientHello,
} from './handshake-codec.ts';
import { verifyClientChain } from './peer-certificate.ts';
import { keyBlock, masterSecret, pskPreMaster, verifyData } from './prf.ts';
import { DecodeError } from './reader.ts';
import { Reassembler, type ReassembledMessage } from './reassembly.ts';
import { ContentType, DTLS12, RECORD_HEADER, encodeRecord, seqBytesOf, type DtlsRecord } from './record.ts';
import { ReplayWindow } from './replay-window.ts';
import type { DtlsIdentity, DtlsServerOptions, DtlsSession, DtlsStats } from './types.ts';

export interface ServerMaterial {
  chainDer: Buffer[];
  key: KeyObject;
  trusted: X509Certificate[];
  caSubjectsDer: Buffer[];
}

export interface ConnectionContext {
  options: DtlsServerOptions;
  material: ServerMaterial | null;
  stats: DtlsStats;
  send(datagram: Buffer, port: number, address: string): void;
  established(conn: DtlsConnection): void;
  closed(conn: DtlsConnection): void;
}

interface OutRecord {
  type: number;
  epoch: 0 | 1;
  payload: Buffer;
}

class HandshakeFailure extends Error {
  readonly alert: AlertName;
  constructor(alert: AlertName, reason: string) {
    super(reason);
    this.alert = alert;
  }
}

type State = 'handshake' | 'established' | 'closed';

export function chooseSuite(hello: ClientHello, offered: readonly number[], canPsk: boolean, canCert: boolean): CipherSuite | null {
  const groups = hello.extensions.get(Extension.supportedGroups);
  const sigAlgs = hello.extensions.get(Extension.signatureAlgorithms);
  let ecdheOk = canCert;
  try {
    // RFC 8422 §4: no supported_groups means any curve; RFC 5246 §7.4.1.4.1: no signature_algorithms means SHA-1 only.
    if (groups !== undefined && !parseU16List(groups).includes(NAMED_CURVE_SECP256R1)) ecdheOk = false;
    if (sigAlgs === undefined || !parseU16List(sigAlgs).includes(ECDSA_SECP256R1_SHA256)) ecdheOk = false;
  } catch {
    ecdheOk = false;
  }
  for (const id of offered) {
    if (!hello.cipherSuites.includes(id)) continue;
    const suite = suiteById(id);
    if (suite === undefined) continue;
    if (suite.keyExchange === 'psk' && canPsk) return suite;
    if (suite.keyExchange === 'ecdhe_ecdsa' && ecdheOk) return suite;
  }
  return null;
}

export class DtlsConnection implements DtlsSession {
  readonly remote: { address: string; port: number };
  readonly key: string;
  readonly clientRandom: Buffer;
  readonly #ctx: ConnectionContext;
  readonly #suite: CipherSuite;
  readonly #serverRandom = randomBytes(32);
  readonly #ems: boolean;
  readonly #transcript: Buffer[] = [];
  readonly #reassembler: Reassembler;
  readonly #replay = new ReplayWindow();
  readonly #writeSeq: [bigint, bigint];
  readonly #dataListeners: Array<(b: Buffer) => void> = [];
  readonly #closeListeners: Array<() => void> = [];
  readonly #flight: FlightTimer;
  #flightRecords: OutRecord[] = [];
  #state: State = 'handshake';
  #nextServerSeq: number;
  #ecdh: ReturnType<typeof createECDH> | null = null;
  #master: Buffer | null = null;
  #read: AeadState | null = null;
  #write: AeadState | null = null;
  #identity: DtlsIdentity | null = null;
  #peerLeaf: X509Certificate | null = null;
  #expect: number[];
  #busy = false;
  #inbox: DtlsRecord[] = [];
  #idleTimer: NodeJS.Timeout;
  /** False when the PSK identity was unknown and a random key stands in (RFC 4279 §2). */
  #pskKnown = true;

  constructor(ctx: ConnectionContext, remote: { address: string; port: number }, suite: CipherSuite, hello: ClientHello, helloMessage: Buffer, helloMessageSeq: number, helloRecordSeq: bigint) {
    this.#ctx = ctx;
    this.remote = remote;
    this.key = `${remote.address}:${remote.port}`;
    this.#suite = suite;
    this.clientRandom = Buffer.from(hello.random);
    this.#ems = hello.extensions.has(Extension.extendedMasterSecret);
    this.#transcript.push(helloMessage);
    this.#reassembler = new Reassembler({ nextSeq: helloMessageSeq + 1 });
    this.#nextServerSeq = helloMessageSeq;
    // RFC 6347 §4.2.1: the server's records continue from the ClientHello's record sequence number.
    this.#writeSeq = [helloRecordSeq, 0n];
    this.#expect =
      suite.keyExchange === 'psk'
        ? [HandshakeType.clientKeyExchange, HandshakeType.finished]
        : [HandshakeType.certificate, HandshakeType.clientKeyExchange, HandshakeType.certificateVerify, HandshakeType.finished];
    this.#flight = new FlightTimer(
      () => this.#transmit(this.#flightRecords),
      () => this.#fail('handshake_failure', 'flight retransmissions exhausted', false),
      ctx.options.retransmit,
    );
    this.#idleTimer = setTimeout(() => this.#onIdle(), ctx.options.handshakeTimeoutMs ?? 30_000);
    this.#idleTimer.unref();
    this.#sendServerHelloFlight(hello);
  }

  get identity(): DtlsIdentity {
    if (this.#identity === null) throw new Error('DTLS session has no identity before the handshake completes');
    return this.#identity;
  }

  get cipherSuite(): string {
    return this.#suite.name;
  }

  get state(): State {
    return this.#state;
  }

  // ---- DtlsSession ----

  send(data: Buffer): void {
    // RFC 5246 §6.2.1: a record carries at most 2^14 bytes; CoAP keeps messages far smaller (blockwise).
    if (data.length > 16384) throw new RangeError(`DTLS application data of ${data.length} bytes exceeds one record (16384)`);
    if (this.#state !== 'established') return;
    this.#transmit([{ type: ContentType.applicationData, epoch: 1, payload: data }]);
  }

  onData(cb: (b: Buffer) => void): void {
    this.#dataListeners.push(cb);
  }

  onClose(cb: () => void): void {
    this.#closeListeners.push(cb);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#sendAlert(AlertLevel.warning, 'close_notify');
    this.#teardown();
  }

  /** Dropped because another handshake from the same address replaced it (RFC 6347 §4.2.8). */
  replaced(): void {
    this.#teardown();
  }

  // ---- input ----

  handleRecords(records: DtlsRecord[]): void {
    if (this.#state === 'closed') return;
    this.#process(records);
  }

  /** True when this is the same ClientHello again (the client did not get our flight). */
  isRetransmittedHello(hello: ClientHello): boolean {
    return this.#state === 'handshake' && hello.random.equals(this.clientRandom);
  }

  resendFlight(): void {
    this.#flight.resendOnPeerRetransmit();
  }

  #process(records: DtlsRecord[]): void {
    for (let i = 0; i < records.length; i++) {
      if (this.#state === 'closed') return;
      if (this.#busy) {
        // Waiting for a PSK lookup or a verifyPeer hook: keep the rest in order (bounded; a
        // peer that floods meanwhile loses the excess and retransmits).
        for (const r of records.slice(i)) {
          if (this.#inbox.length < 32) this.#inbox.push(r);
          else this.#ctx.stats.dropped.overCapacity++;
        }
        return;
      }
      const record = records[i]!;
      const plain = this.#unprotect(record);
      if (plain === null) continue;
      // Only authenticated records keep an established session alive.
      if (record.epoch === 1) this.#touch();
      switch (record.type) {
        case ContentType.handshake:
          this.#onHandshakeRecord(plain, record.epoch);
          break;
        case ContentType.changeCipherSpec:
          // The epoch change is keyed on the record's epoch; CCS itself carries nothing we need.
          break;
        case ContentType.alert:
          this.#onAlert(plain);
          break;
        case ContentType.applicationData:
          if (this.#state === 'established' && record.epoch === 1) {
            for (const cb of this.#dataListeners) cb(plain);
          } else {
            this.#ctx.stats.dropped.unexpected++;
          }
          break;
        default:
          this.#ctx.stats.dropped.unexpected++;
      }
      // Handle complete messages now: the next record may need the keys they derive.
      if (this.#state === 'handshake') this.#drain();
    }
  }

  /** Decrypts and replay-checks; null = dropped (counted), or the handshake failed. */
  #unprotect(record: DtlsRecord): Buffer | null {
    const stats = this.#ctx.stats;
    if (record.epoch === 0) {
      // Epoch 0 is unauthenticated: once established, only a retransmitted handshake flight is
      // read there (to resend our final flight); a plaintext alert must not close the session,
      // or anyone who can spoof the peer's address could.
      if (record.type === ContentType.applicationData || (this.#state === 'established' && record.type !== ContentType.handshake)) {
        stats.dropped.unexpected++;
        return null;
      }
      return record.fragment;
    }
    if (record.epoch !== 1 || this.#read === null) {
      stats.dropped.badEpoch++;
      return null;
    }
    if (!this.#replay.check(record.seq)) {
      stats.dropped.replay++;
      return null;
    }
    const plain = this.#read.open(record.seqBytes, record.type, record.version, record.fragment);
    if (plain === null) {
      stats.dropped.badMac++;
      // RFC 6347 §4.1.2.7 drops bad records silently; during the handshake a bad MAC means the
      // wrong key (wrong PSK), which RFC 5246 §7.2.2 answers with a fatal bad_record_mac.
      if (this.#state === 'handshake') this.#fail('bad_record_mac', this.#suite.keyExchange === 'psk' ? 'bad record MAC (wrong PSK?)' : 'bad record MAC', true);
      return null;
    }
    this.#replay.mark(record.seq);
    return plain;
  }

  #onHandshakeRecord(plain: Buffer, epoch: number): void {
    let fragments;
    try {
      fragments = parseHandshakeFragments(plain);
    } catch {
      if (this.#state === 'handshake') this.#fail('decode_error', 'malformed handshake record', true);
      else this.#ctx.stats.dropped.malformed++;
      return;
    }
    for (const fragment of fragments) {
      if (this.#state === 'established') {
        if (fragment.msgType === HandshakeType.clientHello && epoch === 1) {
          // RFC 5746 / RFC 5246 §7.2.2: renegotiation is not supported here.
          this.#sendAlert(AlertLevel.warning, 'no_renegotiation');
        } else if (fragment.messageSeq < this.#reassembler.nextSeq) {
          // The client retransmitted its last flight: our final flight was lost (§4.2.4).
          this.#flight.resendOnPeerRetransmit();
        } else {
          this.#ctx.stats.dropped.unexpected++;
        }
        continue;
      }
      const verdict = this.#reassembler.add(fragment);
      if (verdict === 'old') this.#flight.resendOnPeerRetransmit();
      else if (verdict === 'invalid') {
        this.#fail('decode_error', 'inconsistent handshake fragment', true);
        return;
      } else if (verdict === 'too-far') this.#ctx.stats.dropped.unexpected++;
    }
  }

  #onAlert(plain: Buffer): void {
    if (plain.length !== 2) {
      this.#ctx.stats.dropped.malformed++;
      return;
    }
    const level = plain[0]!;
    const description = plain[1]!;
    if (description === AlertDescription.close_notify) {
      // RFC 5246 §7.2.1: answer close_notify with close_notify.
      this.#sendAlert(AlertLevel.warning, 'close_notify');
      this.#teardown();
      return;
    }
    if (level === AlertLevel.fatal) {
      if (this.#state === 'handshake') this.#recordFailure('peer_alert', `peer sent fatal alert ${description}`, { alert: description });
      this.#teardown();
    }
  }

  #drain(): void {
    if (this.#busy) return;
    let message: ReassembledMessage | null;
    while (this.#state === 'handshake' && !this.#busy && (message = this.#reassembler.take()) !== null) {
      const msg = message;
      const expected = this.#expect[0];
      if (msg.msgType !== expected) {
        this.#fail('unexpected_message', `unexpected handshake message ${msg.msgType}`, true);
        return;
      }
      this.#expect.shift();
      this.#busy = true;
      this.#handle(msg).then(
        () => this.#resume(),
        (err: unknown) => {
          this.#busy = false;
          if (err instanceof HandshakeFailure) this.#fail(err.alert, err.message, true);
          else if (err instanceof DecodeError) this.#fail('decode_error', `malformed handshake message: ${err.message}`, true);
          else this.#fail('internal_error', err instanceof Error ? err.message : String(err), true);
        },
      );
    }
  }

  #resume(): void {
    this.#busy = false;
    // Messages already reassembled come before records that arrived while we waited.
    if (this.#state === 'handshake') this.#drain();
    if (this.#busy) return;
    const queued = this.#inbox;
    this.#inbox = [];
    if (queued.length > 0) this.#process(queued);
  }

  async #handle(msg: ReassembledMessage): Promise<void> {
    const full = handshakeMessage(msg.msgType, msg.messageSeq, msg.body);
    switch (msg.msgType) {
      case HandshakeType.certificate:
        await this.#onClientCertificate(msg.body);
        this.#transcript.push(full);
        return;
      case HandshakeType.clientKeyExchange:
        if (this.#suite.keyExchange === 'psk') await this.#onPskKeyExchange(msg.body, full);
        else this.#onEcdheKeyExchange(msg.body, full);
        return;
      case HandshakeType.certificateVerify:
        this.#onCertificateVerify(msg.body);
        this.#transcript.push(full);
        return;
      case HandshakeType.finished:
        this.#onFinished(msg.body, full);
        return;
      default:
        throw new HandshakeFailure('unexpected_message', `unexpected handshake message ${msg.msgType}`);
    }
  }

  // ---- handshake steps ----

  #sendServerHelloFlight(hello: ClientHello): void {
    const extensions: Array<[number, Buffer]> = [];
    // RFC 5746 §3.6: a client that signals secure renegotiation gets an empty renegotiation_info.
    if (hello.extensions.has(Extension.renegotiationInfo) || hello.cipherSuites.includes(0x00ff)) extensions.push([Extension.renegotiationInfo, Buffer.from([0])]);
    if (this.#ems) extensions.push([Extension.extendedMasterSecret, Buffer.alloc(0)]);
    if (this.#suite.keyExchange === 'ecdhe_ecdsa' && hello.extensions.has(Extension.ecPointFormats)) extensions.push([Extension.ecPointFormats, Buffer.from([1, 0])]);
    const messages: Array<[number, Buffer]> = [[HandshakeType.serverHello, serverHello(this.#serverRandom, this.#suite.id, extensions)]];
    if (this.#suite.keyExchange === 'ecdhe_ecdsa') {
      const material = this.#ctx.material!;
      this.#ecdh = createECDH('prime256v1');
      const params = ecdheParams(this.#ecdh.generateKeys());
      // RFC 8422 §5.4: the signature covers client_random + server_random + ServerECDHParams.
      const signature = sign('sha256', Buffer.concat([this.clientRandom, this.#serverRandom, params]), { key: material.key, dsaEncoding: 'der' });
      messages.push([HandshakeType.certificate, certificateMessage(material.chainDer)]);
      messages.push([HandshakeType.serverKeyExchange, serverKeyExchangeEcdhe(params, signature)]);
      messages.push([HandshakeType.certificateRequest, certificateRequest(material.caSubjectsDer)]);
    }
    messages.push([HandshakeType.serverHelloDone, Buffer.alloc(0)]);
    const records: OutRecord[] = [];
    const maxBody = this.#mtu() - RECORD_HEADER - 12;
    for (const [type, body] of messages) {
      const seq = this.#nextServerSeq++;
      this.#transcript.push(handshakeMessage(type, seq, body));
      for (const fragment of fragmentMessage(type, seq, body, maxBody)) records.push({ type: ContentType.handshake, epoch: 0, payload: fragment });
    }
    this.#flightRecords = records;
    this.#flight.start(true);
  }

  async #onClientCertificate(body: Buffer): Promise<void> {
    const chain = parseCertificate(body);
    if (chain.length === 0) throw new HandshakeFailure('handshake_failure', 'no client certificate (ECDHE suites need a device certificate)');
    const verdict = verifyClientChain(chain, this.#ctx.material!.trusted);
    if (!verdict.ok) throw new HandshakeFailure(verdict.reason, `client certificate refused: ${verdict.reason}`);
    const options = this.#ctx.options;
    const identity = options.verifyPeer === undefined ? verdict.identity : await options.verifyPeer(chain, verdict.identity);
    if (identity === null) throw new HandshakeFailure('certificate_revoked', `device certificate refused by policy (${verdict.identity.deviceId})`);
    this.#identity = { kind: 'certificate', cert: identity };
    this.#peerLeaf = verdict.leaf;
  }

  async #onPskKeyExchange(body: Buffer, full: Buffer): Promise<void> {
    const identity = parsePskClientKeyExchange(body);
    if (identity.length === 0 || identity.length > 128) throw new HandshakeFailure('illegal_parameter', 'bad PSK identity');
    const options = this.#ctx.options;
    const psk = options.psk === undefined ? null : await options.psk(identity);
    this.#identity = { kind: 'psk', id: identity };
    // RFC 4279 §2: hide whether the identity exists by going on with a random key, which fails
    // the client's Finished exactly as a wrong key does.
    this.#pskKnown = psk !== null;
    this.#transcript.push(full);
    this.#deriveKeys(pskPreMaster(psk ?? randomBytes(16)));
  }

  #onEcdheKeyExchange(body: Buffer, full: Buffer): void {
    const point = parseEcdheClientKeyExchange(body);
    // RFC 8422 §5.7: uncompressed points only (we advertised only that format).
    if (point.length !== 65 || point[0] !== 4) throw new HandshakeFailure('illegal_parameter', 'client ECDH point is not an uncompressed P-256 point');
    let shared: Buffer;
    try {
      shared = this.#ecdh!.computeSecret(point);
    } catch {
      throw new HandshakeFailure('illegal_parameter', 'client ECDH point is not on P-256');
    }
    this.#transcript.push(full);
    this.#deriveKeys(shared);
  }

  #onCertificateVerify(body: Buffer): void {
    const { algorithm, signature } = parseCertificateVerify(body);
    if (algorithm !== ECDSA_SECP256R1_SHA256) throw new HandshakeFailure('illegal_parameter', `CertificateVerify algorithm 0x${algorithm.toString(16)} not offered`);
    // RFC 5246 §7.4.8: the signature covers every handshake message up to this one.
    const ok = verify('sha256', Buffer.concat(this.#transcript), { key: this.#peerLeaf!.publicKey, dsaEncoding: 'der' }, signature);
    if (!ok) throw new HandshakeFailure('decrypt_error', 'CertificateVerify signature does not verify');
  }

  #deriveKeys(preMaster: Buffer): void {
    // RFC 7627 §3: the session hash covers the transcript up to and including ClientKeyExchange.
    const sessionHash = this.#ems ? this.#hash() : null;
    this.#master = masterSecret(preMaster, this.clientRandom, this.#serverRandom, sessionHash);
    const keys = keyBlock(this.#master, this.clientRandom, this.#serverRandom);
    this.#read = new AeadState(this.#suite, keys.clientKey, keys.clientSalt);
    this.#write = new AeadState(this.#suite, keys.serverKey, keys.serverSalt);
  }

  #onFinished(body: Buffer, full: Buffer): void {
    const expected = verifyData(this.#master!, 'client finished', this.#hash());
    if (body.length !== 12 || !timingSafeEqual(body, expected)) throw new HandshakeFailure('decrypt_error', 'client Finished does not verify');
    if (!this.#pskKnown) throw new HandshakeFailure('decrypt_error', 'unknown PSK identity');
    this.#transcript.push(full);
    const seq = this.#nextServerSeq++;
    const serverFinished = handshakeMessage(HandshakeType.finished, seq, verifyData(this.#master!, 'server finished', this.#hash()));
    this.#flight.stop();
    this.#flightRecords = [
      { type: ContentType.changeCipherSpec, epoch: 0, payload: Buffer.from([1]) },
      { type: ContentType.handshake, epoch: 1, payload: serverFinished },
    ];
    this.#flight.start(false);
    this.#state = 'established';
    this.#transcript.length = 0;
    this.#ecdh = null;
    this.#ctx.stats.handshakesCompleted++;
    this.#touch();
    this.#ctx.established(this);
  }

  #hash(): Buffer {
    const h = createHash('sha256');
    for (const m of this.#transcript) h.update(m);
    return h.digest();
  }

  // ---- output ----

  #mtu(): number {
    return this.#ctx.options.mtu ?? 1200;
  }

  #transmit(records: OutRecord[]): void {
    const datagrams: Buffer[] = [];
    let current: Buffer[] = [];
    let size = 0;
    for (const record of records) {
      const epoch = record.epoch === 1 ? 1 : 0;
      const seq = this.#writeSeq[epoch];
      this.#writeSeq[epoch] = seq + 1n;
      let payload = record.payload;
      if (epoch === 1) {
        if (this.#write === null) continue;
        payload = this.#write.seal(seqBytesOf(1, seq), record.type, DTLS12, payload);
      }
      const encoded = encodeRecord(record.type, DTLS12, epoch, seq, payload);
      if (size + encoded.length > this.#mtu() && current.length > 0) {
        datagrams.push(Buffer.concat(current));
        current = [];
        size = 0;
      }
      current.push(encoded);
      size += encoded.length;
    }
    if (current.length > 0) datagrams.push(Buffer.concat(current));
    for (const d of datagrams) this.#ctx.send(d, this.remote.port, this.remote.address);
  }

  #sendAlert(level: number, name: AlertName): void {
    // Before our ChangeCipherSpec the client reads epoch 0; after it, epoch 1.
    this.#transmit([{ type: ContentType.alert, epoch: this.#state === 'established' ? 1 : 0, payload: encodeAlert(level, name) }]);
  }

  #fail(alert: AlertName, reason: string, sendAlert: boolean): void {
    if (this.#state === 'closed') return;
    if (sendAlert) this.#sendAlert(AlertLevel.fatal, alert);
    this.#recordFailure(alert, reason, {});
    this.#teardown();
  }

  #recordFailure(alert: string, reason: string, extra: Record<string, unknown>): void {
    this.#ctx.stats.handshakesFailed++;
    const principal = this.#identity === null ? null : this.#identity.kind === 'psk' ? this.#identity.id : this.#identity.cert.deviceId;
    this.#ctx.options.events?.record('dtls.handshake_failed', 'warning', {
      principal,
      source: this.key,
      detail: { reason, alert, suite: this.#suite.name, ...(this.#suite.keyExchange === 'psk' && this.#identity !== null ? { identityKnown: this.#pskKnown } : {}), ...extra },
    });
  }

  #touch(): void {
    if (this.#state !== 'established') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#onIdle(), this.#ctx.options.idleTimeoutMs ?? 300_000);
    this.#idleTimer.unref();
  }

  #onIdle(): void {
    if (this.#state === 'handshake') this.#fail('handshake_failure', 'handshake timed out', false);
    else this.close();
  }

  #teardown(): void {
    if (this.#state === 'closed') return;
    const wasEstablished = this.#state === 'established';
    this.#state = 'closed';
    this.#flight.stop();
    clearTimeout(this.#idleTimer);
    this.#inbox = [];
    this.#ctx.closed(this);
    if (wasEstablished) for (const cb of this.#closeListeners) cb();
  }
}
