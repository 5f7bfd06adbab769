/**
 * The DTLS record layer framing (RFC 6347 §4.1): a 13-byte header (type, version, epoch, 48-bit
 * sequence number, length) and several records per datagram. Parsing never throws: a malformed
 * record ends the walk over the datagram and is reported so the server can count it, because
 * §4.1.2.7 says invalid records are discarded silently.
 */
export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

/** DTLS 1.2 is {254, 253}; DTLS 1.0 {254, 255} appears on ClientHello and HelloVerifyRequest (RFC 6347 §4.2.1). */
export const DTLS12 = 0xfefd;
export const DTLS10 = 0xfeff;
export const RECORD_HEADER = 13;
/** RFC 6347 §4.1 inherits TLS's 2^14 plaintext bound plus 2048 of expansion (RFC 5246 §6.2.3). */
export const MAX_CIPHERTEXT = 16384 + 2048;

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  seq: bigint;
  /** The 8-byte epoch + sequence number, the AEAD nonce and additional data both use it. */
  seqBytes: Buffer;
  fragment: Buffer;
}

export interface ParsedDatagram {
  records: DtlsRecord[];
  /** Bytes that were not a complete, well-formed record. */
  malformed: boolean;
}

export function parseDatagram(datagram: Buffer): ParsedDatagram {
  const records: DtlsRecord[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    if (datagram.length - offset < RECORD_HEADER) return { records, malformed: true };
    const type = datagram[offset]!;
    const version = datagram.readUInt16BE(offset + 1);
    const length = datagram.readUInt16BE(offset + 11);
    if (type < 20 || type > 23 || (version !== DTLS12 && version !== DTLS10) || length > MAX_CIPHERTEXT || offset + RECORD_HEADER + length > datagram.length) {
      return { records, malformed: true };
    }
    const seqBytes = Buffer.from(datagram.subarray(offset + 3, offset + 11));
    records.push({
      type,
      version,
      epoch: datagram.readUInt16BE(offset + 3),
      seq: (BigInt(datagram.readUInt16BE(offset + 5)) << 32n) | BigInt(datagram.readUInt32BE(offset + 7)),
      seqBytes,
      fragment: datagram.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length),
    });
    offset += RECORD_HEADER + length;
  }
  return { records, malformed: false };
}

export function seqBytesOf(epoch: number, seq: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16BE(epoch, 0);
  out.writeUInt16BE(Number((seq >> 32n) & 0xffffn), 2);
  out.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  return out;
}

export function encodeRecord(type: number, version: number, epoch: number, seq: bigint, fragment: Buffer): Buffer {
  const header = Buffer.alloc(RECORD_HEADER);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  seqBytesOf(epoch, seq).copy(header, 3);
  header.writeUInt16BE(fragment.length, 11);
  return Buffer.concat([header, fragment]);
}
