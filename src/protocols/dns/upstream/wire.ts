/**
 * The few wire facts the forwarders need, read with a bounded reader: the header fields, the one
 * question (as a case-folded key, for RFC 5452 §3 matching), random query ids, and a full
 * structural check of an accepted answer. Nothing here allocates per label or can loop: every
 * name walk is capped in hops and length, and every read is bounds-checked.
 */
import { randomBytes } from 'node:crypto';
import { decode } from 'dns-packet';
import { HEADER_LENGTH } from '../wire.ts';

/** RFC 1035 §2.3.4: a name is at most 255 bytes on the wire. */
const MAX_NAME_BYTES = 255;
/** More compression hops than labels a legal name can hold means a loop or an attack. */
const MAX_POINTER_HOPS = 127;

export const isResponse = (msg: Buffer): boolean => ((msg[2] ?? 0) & 0x80) !== 0;
export const isTruncated = (msg: Buffer): boolean => ((msg[2] ?? 0) & 0x02) !== 0;
export const rcodeOf = (msg: Buffer): number => (msg[3] ?? 0) & 0x0f;

/**
 * The question of a message with exactly one, as `lowercased-wire-name|type|class`, or null when
 * the message is too short, has another question count, or a name that does not read. Names are
 * compared case-insensitively (RFC 4343); ASCII letters only are folded.
 */
export function questionKey(msg: Buffer): string | null {
  if (msg.length < HEADER_LENGTH || msg.readUInt16BE(4) !== 1) return null;
  let at = HEADER_LENGTH;
  let end = -1;
  let hops = 0;
  let floor = at;
  let length = 0;
  let key = '';
  for (;;) {
    const len = msg[at];
    if (len === undefined) return null;
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      const low = msg[at + 1];
      if (low === undefined) return null;
      const target = ((len & 0x3f) << 8) | low;
      // RFC 1035 §4.1.4: a pointer goes to a prior occurrence. Each jump must land before the
      // previous one (as dns-packet requires), so the walk cannot cycle.
      if (target >= floor || ++hops > MAX_POINTER_HOPS) return null;
      if (end < 0) end = at + 2;
      at = target;
      floor = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return null; // 0x40 / 0x80: extended label types (RFC 6891 §5), not used
    length += len + 1;
    if (length + 1 > MAX_NAME_BYTES || at + 1 + len > msg.length) return null;
    for (let i = at + 1; i <= at + len; i++) {
      const c = msg[i] ?? 0;
      key += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
    }
    key += '.';
    at += 1 + len;
  }
  if (end + 4 > msg.length) return null;
  return `${key}|${msg.readUInt16BE(end)}|${msg.readUInt16BE(end + 2)}`;
}

/**
 * Whether a whole message decodes: every section within bounds, names with backward pointers
 * only. dns-packet throws on each such fault (and is bounded: its pointers must go backwards).
 * Only called on an answer that already matched id and question, so a flood of spoofs costs the
 * cheap check above, not this one.
 */
export function decodes(msg: Buffer): boolean {
  try {
    decode(msg);
    return true;
  } catch {
    return false;
  }
}

// RFC 5452 §9.2: ids must be unpredictable. A pooled buffer from the CSPRNG: one system call per
// 2048 ids instead of one per id (crypto.randomInt costs a call and a rejection loop each).
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = POOL_BYTES;

export function randomId(): number {
  if (poolAt + 2 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  const id = pool.readUInt16BE(poolAt);
  poolAt += 2;
  return id;
}

/** A copy of `query` carrying `id`: the caller's buffer is never written to. */
export function withId(query: Buffer, id: number): Buffer {
  const out = Buffer.allocUnsafe(query.length);
  query.copy(out);
  out.writeUInt16BE(id, 0);
  return out;
}
