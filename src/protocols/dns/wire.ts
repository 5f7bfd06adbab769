/**
 * The DNS wire format on the hot path (RFC 1035 §4): an allocation-light reader of a query —
 * header, the one question read label by label into the canonical lower-case name, and the
 * EDNS(0) OPT record (RFC 6891) — plus name skipping and bounded name reading for answers.
 *
 * Why not dns-packet here: it decodes every query into a tree of objects and strings, which
 * costs more than the whole cached answer. This reader makes one string (the name) and one
 * small object per query. dns-packet stays for tests and for decoding where speed is moot.
 *
 * Compression pointers are never followed by the skipper (a name is skipped by reading up to
 * its first pointer), and the one reader that follows them bounds its jumps, so a pointer loop
 * cannot hang anything.
 */

export const HEADER_LENGTH = 12;

export const TYPE_A = 1;
export const TYPE_SOA = 6;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;
/** RFC 6891 §6.1.3: extended RCODE 16, i.e. 1 in the OPT's upper 8 bits and 0 in the header. */
export const RCODE_BADVERS = 16;

/** What the reader made of a datagram. */
export const PARSE_OK = 0;
/** Not even a header, or a response (QR=1; answering those invites loops): nothing is sent. */
export const PARSE_DROP = 1;
export const PARSE_FORMERR = 2;
export const PARSE_BADVERS = 3;
/** OPCODE other than QUERY (RFC 1035 §4.1.1): NOTIMP. */
export const PARSE_NOTIMP = 4;

/** RFC 1035 §2.3.4: 255 octets of wire name, 63 per label. */
const MAX_NAME = 255;
const MAX_LABEL = 63;
/** The most compression pointers one name may take; a loop hits this long before anything else. */
const MAX_POINTER_JUMPS = 64;
/**
 * The largest query we read: one question and an OPT (a cookie, padding to a 468-octet block,
 * RFC 8467) stay far below it. Longer ones are FORMERR on UDP/DoH and close a TCP connection.
 */
export const MAX_QUERY_LENGTH = 4096;
/** RFC 6891 §6.2.5: an advertised payload size below 512 is treated as 512. */
const MIN_UDP_PAYLOAD = 512;

export interface DnsQuery {
  status: number;
  id: number;
  /** The 16 flag bits of the query's header. */
  flags: number;
  opcode: number;
  /** Canonical: lower-case ASCII, no trailing dot, '' for the root. */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question; 0 when no question was read (bytes 12..questionEnd echo it). */
  questionEnd: number;
  /** A well-formed OPT record was present (answers then carry one too). */
  edns: boolean;
  /** The client's UDP payload size (512 without EDNS). */
  udpSize: number;
  dnssecOk: boolean;
  ednsVersion: number;
}

// One scratch buffer for the name: the whole name is copied lower-cased into it and turned into
// a string by one native call, instead of a string built per character.
const scratch = Buffer.allocUnsafe(MAX_NAME + 1);

// Recently read names, by a hash of their bytes: a name asked again (the common case — devices
// ask the same few names over and over) reuses its string instead of allocating one, and the
// Map and Set lookups after us (filter, cache) find its hash already computed in the string.
const INTERN_SLOTS = 8192;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

function nameString(n: number, hash: number): string {
  const slot = hash & (INTERN_SLOTS - 1);
  const known = interned[slot];
  if (known !== undefined && known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === scratch[i]) i++;
    if (i === n) return known;
  }
  const s = scratch.toString('latin1', 0, n);
  interned[slot] = s;
  return s;
}

function result(status: number, id: number, flags: number): DnsQuery {
  return { status, id, flags, opcode: (flags >> 11) & 0xf, name: '', qtype: 0, qclass: 0, questionEnd: 0, edns: false, udpSize: MIN_UDP_PAYLOAD, dnssecOk: false, ednsVersion: 0 };
}

/**
 * Reads a query. Never throws: anything unreadable ends in PARSE_DROP (no header) or
 * PARSE_FORMERR (header readable, so the id can be echoed).
 */
export function parseQuery(buf: Uint8Array): DnsQuery {
  const len = buf.length;
  if (len < HEADER_LENGTH) return result(PARSE_DROP, 0, 0);
  const id = (buf[0]! << 8) | buf[1]!;
  const flags = (buf[2]! << 8) | buf[3]!;
  const q = result(PARSE_OK, id, flags);
  if ((flags & 0x8000) !== 0) {
    q.status = PARSE_DROP;
    return q;
  }
  const qdcount = (buf[4]! << 8) | buf[5]!;
  const ancount = (buf[6]! << 8) | buf[7]!;
  const nscount = (buf[8]! << 8) | buf[9]!;
  const arcount = (buf[10]! << 8) | buf[11]!;
  if (len > MAX_QUERY_LENGTH) {
    q.status = PARSE_FORMERR;
    return q;
  }
  const notimp = q.opcode !== 0;
  // RFC 1035 §4.1.2 allows several questions; no server answers them, and one is all a cache keys on.
  if (qdcount !== 1) {
    q.status = notimp ? PARSE_NOTIMP : PARSE_FORMERR;
    return q;
  }

  let off = HEADER_LENGTH;
  let n = 0;
  let hash = 0x811c9dc5;
  for (;;) {
    if (off >= len) return fail(q, notimp);
    const l = buf[off]!;
    if (l === 0) {
      off++;
      break;
    }
    // 0xC0 is a compression pointer: in the question of a query there is nothing earlier to
    // point at. 0x40 and 0x80 are reserved label types (RFC 6891 §5).
    if (l > MAX_LABEL || off + 1 + l > len || off + 1 + l - HEADER_LENGTH >= MAX_NAME) return fail(q, notimp);
    if (n > 0) scratch[n++] = 0x2e;
    const end = off + 1 + l;
    for (let i = off + 1; i < end; i++) {
      const c = buf[i]!;
      // A '.' inside a label would make two different wire names one text name (and one cache
      // key): refused as malformed rather than escaped.
      if (c === 0x2e) return fail(q, notimp);
      const lc = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      scratch[n++] = lc;
      hash = Math.imul(hash ^ lc, 0x01000193);
    }
    hash = Math.imul(hash ^ 0x2e, 0x01000193);
    off = end;
  }
  if (off + 4 > len) return fail(q, notimp);
  q.name = n === 0 ? '' : nameString(n, hash ^ (hash >>> 15));
  q.qtype = (buf[off]! << 8) | buf[off + 1]!;
  q.qclass = (buf[off + 2]! << 8) | buf[off + 3]!;
  off += 4;
  q.questionEnd = off;
  if (notimp) {
    q.status = PARSE_NOTIMP;
    return q;
  }

  // Answer and authority sections of a query are normally empty; skipped if not.
  for (let i = ancount + nscount; i > 0; i--) {
    off = skipRecord(buf, off, len);
    if (off < 0) return fail(q, false);
  }
  for (let i = arcount; i > 0; i--) {
    const start = off;
    off = skipName(buf, off, len);
    if (off < 0 || off + 10 > len) return fail(q, false);
    const type = (buf[off]! << 8) | buf[off + 1]!;
    const rdlen = (buf[off + 8]! << 8) | buf[off + 9]!;
    const rdata = off + 10;
    if (rdata + rdlen > len) return fail(q, false);
    if (type === TYPE_OPT) {
      // RFC 6891 §6.1.1: one OPT, owner the root; more than one is FORMERR.
      if (q.edns || off !== start + 1) {
        q.edns = false;
        return fail(q, false);
      }
      if (!optionsWellFormed(buf, rdata, rdata + rdlen)) return fail(q, false);
      const size = (buf[off + 2]! << 8) | buf[off + 3]!;
      q.udpSize = size < MIN_UDP_PAYLOAD ? MIN_UDP_PAYLOAD : size;
      q.ednsVersion = buf[off + 5]!;
      q.dnssecOk = (buf[off + 6]! & 0x80) !== 0;
      q.edns = true;
    }
    off = rdata + rdlen;
  }
  // RFC 6891 §6.1.3: a version we do not implement is answered BADVERS (with our OPT, version 0).
  if (q.edns && q.ednsVersion > 0) q.status = PARSE_BADVERS;
  return q;
}

function fail(q: DnsQuery, notimp: boolean): DnsQuery {
  q.status = notimp ? PARSE_NOTIMP : PARSE_FORMERR;
  return q;
}

/** RFC 6891 §6.1.2: OPTION-CODE, OPTION-LENGTH, data — each option must fit the RDATA. */
function optionsWellFormed(buf: Uint8Array, off: number, end: number): boolean {
  while (off < end) {
    if (off + 4 > end) return false;
    off += 4 + ((buf[off + 2]! << 8) | buf[off + 3]!);
  }
  return off === end;
}

/**
 * The offset just past the name at `off` (a pointer ends a name), or -1 when it is malformed
 * or runs past `end`. Follows no pointer, so it cannot loop.
 */
export function skipName(buf: Uint8Array, off: number, end: number): number {
  const start = off;
  for (;;) {
    if (off >= end) return -1;
    const l = buf[off]!;
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2 <= end ? off + 2 : -1;
    if (l > MAX_LABEL) return -1;
    off += 1 + l;
    if (off - start >= MAX_NAME) return -1;
  }
}

/** The offset just past the resource record at `off`, or -1. */
export function skipRecord(buf: Uint8Array, off: number, end: number): number {
  off = skipName(buf, off, end);
  if (off < 0 || off + 10 > end) return -1;
  const next = off + 10 + ((buf[off + 8]! << 8) | buf[off + 9]!);
  return next <= end ? next : -1;
}

/**
 * Reads the (possibly compressed) name at `off` into canonical text, or null when malformed.
 * Pointer jumps are bounded (MAX_POINTER_JUMPS) and must point backwards, so a loop ends in null.
 */
export function readName(buf: Uint8Array, off: number): string | null {
  const end = buf.length;
  let jumps = 0;
  let n = 0;
  let wire = 0;
  const out: number[] = [];
  for (;;) {
    if (off >= end) return null;
    const l = buf[off]!;
    if (l === 0) break;
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= end || ++jumps > MAX_POINTER_JUMPS) return null;
      const target = ((l & 0x3f) << 8) | buf[off + 1]!;
      // RFC 1035 §4.1.4 pointers refer to a prior occurrence; a forward one is no compression.
      if (target >= off) return null;
      off = target;
      continue;
    }
    if (l > MAX_LABEL || off + 1 + l > end) return null;
    wire += l + 1;
    if (wire >= MAX_NAME) return null;
    if (n > 0) out.push(0x2e);
    for (let i = off + 1; i <= off + l; i++) {
      const c = buf[i]!;
      out.push(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
      n++;
    }
    off += 1 + l;
  }
  return n === 0 ? '' : String.fromCharCode(...out);
}

/** Encodes a canonical name as wire labels (tests, and building queries off the hot path). */
export function encodeName(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const parts = name.split('.');
  const out = Buffer.allocUnsafe(name.length + 2);
  let off = 0;
  for (const p of parts) {
    out[off++] = p.length;
    off += out.write(p, off, 'latin1');
  }
  out[off++] = 0;
  return out.subarray(0, off);
}
