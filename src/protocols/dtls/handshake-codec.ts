/**
 * DTLS handshake message framing (RFC 6347 §4.2.2: a 12-byte header with message_seq and
 * fragment offset/length) and the bodies this server reads and writes (RFC 5246 §7.4, RFC 4279,
 * RFC 4492 as updated by RFC 8422).
 */
import { DecodeError, Reader, u16, u24, u8, vec16, vec24, vec8 } from './reader.ts';

export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const HANDSHAKE_HEADER = 12;
/** No handshake message this server accepts is larger (a client certificate chain fits easily). */
export const MAX_HANDSHAKE_MESSAGE = 16384;

export const Extension = {
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  extendedMasterSecret: 23,
  renegotiationInfo: 0xff01,
} as const;

export const NAMED_CURVE_SECP256R1 = 23;
export const ECDSA_SECP256R1_SHA256 = 0x0403;
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export interface HandshakeFragment {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  body: Buffer;
}

/** Splits a handshake record's fragment into handshake fragments (several may share a record). */
export function parseHandshakeFragments(fragment: Buffer): HandshakeFragment[] {
  const out: HandshakeFragment[] = [];
  const r = new Reader(fragment);
  while (r.remaining > 0) {
    const msgType = r.u8();
    const length = r.u24();
    const messageSeq = r.u16();
    const fragmentOffset = r.u24();
    const fragmentLength = r.u24();
    const body = r.bytes(fragmentLength);
    if (fragmentOffset + fragmentLength > length) throw new DecodeError('fragment beyond message');
    out.push({ msgType, length, messageSeq, fragmentOffset, body });
  }
  return out;
}

/** The header as the transcript hash sees it: one unfragmented message (RFC 6347 §4.2.6). */
export function handshakeMessage(msgType: number, messageSeq: number, body: Buffer): Buffer {
  return Buffer.concat([u8(msgType), u24(body.length), u16(messageSeq), u24(0), u24(body.length), body]);
}

/** Splits a full message into fragments of at most maxBody bytes (RFC 6347 §4.2.3). */
export function fragmentMessage(msgType: number, messageSeq: number, body: Buffer, maxBody: number): Buffer[] {
  if (body.length <= maxBody) return [handshakeMessage(msgType, messageSeq, body)];
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += maxBody) {
    const part = body.subarray(offset, Math.min(body.length, offset + maxBody));
    out.push(Buffer.concat([u8(msgType), u24(body.length), u16(messageSeq), u24(offset), u24(part.length), part]));
  }
  return out;
}

export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  extensions: Map<number, Buffer>;
  /** Everything but the cookie, in order: what the cookie's MAC covers (RFC 6347 §4.2.1). */
  cookieInput: Buffer;
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new Reader(body);
  const clientVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  if (sessionId.length > 32) throw new DecodeError('session id too long');
  const cookieStart = r.offset;
  const cookie = r.vec8();
  const cookieEnd = r.offset;
  const suites = r.vec16();
  if (suites.length % 2 !== 0) throw new DecodeError('odd cipher suite list');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  const compressionMethods = r.vec8();
  const extensions = new Map<number, Buffer>();
  if (r.remaining > 0) {
    const ext = new Reader(r.vec16());
    while (ext.remaining > 0) {
      const type = ext.u16();
      const data = ext.vec16();
      if (extensions.has(type)) throw new DecodeError('duplicate extension');
      extensions.set(type, data);
    }
  }
  r.end();
  return {
    clientVersion,
    random,
    sessionId,
    cookie,
    cipherSuites,
    compressionMethods,
    extensions,
    cookieInput: Buffer.concat([body.subarray(0, cookieStart), body.subarray(cookieEnd)]),
  };
}

/** Lists of uint16 inside an extension (supported_groups, signature_algorithms). */
export function parseU16List(data: Buffer): number[] {
  const r = new Reader(data);
  const list = r.vec16();
  r.end();
  if (list.length % 2 !== 0) throw new DecodeError('odd list');
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(list.readUInt16BE(i));
  return out;
}

export function helloVerifyRequest(cookie: Buffer): Buffer {
  // RFC 6347 §4.2.1: server_version in HelloVerifyRequest SHOULD be DTLS 1.0.
  return Buffer.concat([u16(0xfeff), vec8(cookie)]);
}

export function serverHello(random: Buffer, suite: number, extensions: Array<[number, Buffer]>): Buffer {
  const ext = Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), vec16(data)])));
  // Empty session id: this server does not offer resumption.
  return Buffer.concat([u16(0xfefd), random, vec8(Buffer.alloc(0)), u16(suite), u8(0), ...(extensions.length > 0 ? [vec16(ext)] : [])]);
}

export function certificateMessage(chainDer: Buffer[]): Buffer {
  return vec24(Buffer.concat(chainDer.map((c) => vec24(c))));
}

export function parseCertificate(body: Buffer): Buffer[] {
  const r = new Reader(body);
  const list = new Reader(r.vec24());
  r.end();
  const out: Buffer[] = [];
  while (list.remaining > 0) out.push(list.vec24());
  return out;
}

/** ServerECDHParams (RFC 8422 §5.4): named_curve, secp256r1, the uncompressed point. */
export function ecdheParams(publicPoint: Buffer): Buffer {
  return Buffer.concat([u8(3), u16(NAMED_CURVE_SECP256R1), vec8(publicPoint)]);
}

export function serverKeyExchangeEcdhe(params: Buffer, signature: Buffer): Buffer {
  return Buffer.concat([params, u16(ECDSA_SECP256R1_SHA256), vec16(signature)]);
}

/** CertificateRequest (RFC 5246 §7.4.4): ecdsa_sign only, ecdsa_secp256r1_sha256, and our CA's names. */
export function certificateRequest(caSubjectsDer: Buffer[]): Buffer {
  return Buffer.concat([vec8(u8(64)), vec16(u16(ECDSA_SECP256R1_SHA256)), vec16(Buffer.concat(caSubjectsDer.map((s) => vec16(s))))]);
}

export function parsePskClientKeyExchange(body: Buffer): string {
  const r = new Reader(body);
  const identity = r.vec16();
  r.end();
  return identity.toString('utf8');
}

export function parseEcdheClientKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body);
  const point = r.vec8();
  r.end();
  return point;
}

export function parseCertificateVerify(body: Buffer): { algorithm: number; signature: Buffer } {
  const r = new Reader(body);
  const algorithm = r.u16();
  const signature = r.vec16();
  r.end();
  return { algorithm, signature };
}
