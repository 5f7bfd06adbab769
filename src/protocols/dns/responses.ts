/**
 * Answers we make ourselves, written directly as bytes from the query's own header and
 * question (RFC 1035 §4.1): errors (FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS), blocked
 * names (NXDOMAIN, 0.0.0.0 / ::, REFUSED), and the truncated answer that sends a UDP client
 * to TCP. Also the query we send upstream. Each echoes the asker's question byte for byte (so
 * a 0x20-randomised name comes back in the case it was sent) and carries an OPT record when the
 * query had one (RFC 6891 §7).
 */
import type { BlockedAnswer } from '../../core/dns/types.ts';
import { EDE_NONE, optLength, writeOpt } from './edns.ts';
import {
  CLASS_IN,
  HEADER_LENGTH,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  TYPE_A,
  TYPE_AAAA,
  type DnsQuery,
} from './wire.ts';

/** TTL of a 0.0.0.0 / :: blocked answer: short, so an unblocked name resolves again soon. */
export const BLOCKED_TTL = 10;

const QR = 0x80;
const RA = 0x80;
const TC = 0x02;
const RD = 0x01;
const CD = 0x10;

/**
 * Writes the response header: the query's id, opcode, RD and CD; QR and RA set; `rcode`'s lower
 * four bits (the upper ones travel in the OPT).
 */
function writeHeader(out: Uint8Array, query: Uint8Array, q: DnsQuery, rcode: number, qd: number, an: number, ar: number, tc: boolean): void {
  out[0] = (q.id >> 8) & 0xff;
  out[1] = q.id & 0xff;
  out[2] = QR | ((q.opcode & 0xf) << 3) | (query[2]! & RD) | (tc ? TC : 0);
  out[3] = RA | (query[3]! & CD) | (rcode & 0xf);
  out[4] = 0;
  out[5] = qd;
  out[6] = 0;
  out[7] = an;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = ar;
}

/**
 * An answer with no records: FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS (16), NXDOMAIN or
 * NODATA. The question is echoed when it was read; `ede` adds an RFC 8914 option.
 */
export function buildEmptyAnswer(query: Uint8Array, q: DnsQuery, rcode: number, udpSize: number, ede: number = EDE_NONE, tc = false): Buffer {
  const qEnd = q.questionEnd;
  const qLen = qEnd === 0 ? 0 : qEnd - HEADER_LENGTH;
  const opt = q.edns ? optLength(ede) : 0;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + qLen + opt);
  writeHeader(out, query, q, rcode, qEnd === 0 ? 0 : 1, 0, opt === 0 ? 0 : 1, tc);
  if (qLen > 0) out.set(query.subarray(HEADER_LENGTH, qEnd), HEADER_LENGTH);
  if (opt > 0) writeOpt(out, HEADER_LENGTH + qLen, udpSize, q.dnssecOk, rcode, ede);
  return out;
}

/**
 * The answer to a blocked name (Pi-hole's blocking modes): 'nxdomain' → NXDOMAIN; 'refused' →
 * REFUSED; 'null' → A 0.0.0.0 or AAAA :: with a short TTL, NODATA for any other type.
 */
export function buildBlockedAnswer(query: Uint8Array, q: DnsQuery, answer: BlockedAnswer, udpSize: number, ede: number): Buffer {
  if (answer === 'nxdomain') return buildEmptyAnswer(query, q, RCODE_NXDOMAIN, udpSize, ede);
  if (answer === 'refused') return buildEmptyAnswer(query, q, RCODE_REFUSED, udpSize, ede);
  const rdlen = q.qclass === CLASS_IN && q.qtype === TYPE_A ? 4 : q.qclass === CLASS_IN && q.qtype === TYPE_AAAA ? 16 : 0;
  if (rdlen === 0) return buildEmptyAnswer(query, q, RCODE_NOERROR, udpSize, ede);
  const qEnd = q.questionEnd;
  const opt = q.edns ? optLength(ede) : 0;
  const out = Buffer.allocUnsafe(qEnd + 12 + rdlen + opt);
  writeHeader(out, query, q, RCODE_NOERROR, 1, 1, opt === 0 ? 0 : 1, false);
  out.set(query.subarray(HEADER_LENGTH, qEnd), HEADER_LENGTH);
  let off = qEnd;
  // Owner: a pointer to the question's name at offset 12 (RFC 1035 §4.1.4).
  out[off++] = 0xc0;
  out[off++] = HEADER_LENGTH;
  out[off++] = 0;
  out[off++] = q.qtype;
  out[off++] = 0;
  out[off++] = CLASS_IN;
  out[off++] = 0;
  out[off++] = 0;
  out[off++] = 0;
  out[off++] = BLOCKED_TTL;
  out[off++] = 0;
  out[off++] = rdlen;
  out.fill(0, off, off + rdlen);
  off += rdlen;
  if (opt > 0) writeOpt(out, off, udpSize, q.dnssecOk, RCODE_NOERROR, ede);
  return out;
}

/**
 * The query we send upstream for `q`: id 0 (the forwarder picks its own), RD set, the question
 * in canonical lower case (so one upstream answer serves every spelling), and an OPT with our
 * payload size and the client's DO bit (the cache keys on it).
 */
export function buildUpstreamQuery(query: Uint8Array, q: DnsQuery, udpSize: number): Buffer {
  const qEnd = q.questionEnd;
  const out = Buffer.allocUnsafe(qEnd + 11);
  out.fill(0, 0, HEADER_LENGTH);
  out[2] = RD;
  out[5] = 1;
  out[11] = 1;
  for (let i = HEADER_LENGTH; i < qEnd; i++) {
    const c = query[i]!;
    // Length octets are at most 63, below 'A': lower-casing every byte of the name is safe.
    out[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  // qtype and qclass were lower-cased above too if they held 0x41..0x5a: restore them.
  out.set(query.subarray(qEnd - 4, qEnd), qEnd - 4);
  writeOpt(out, qEnd, udpSize, q.dnssecOk, 0, EDE_NONE);
  return out;
}
