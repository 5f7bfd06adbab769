/**
 * The CoAP message codec (RFC 7252 §3): a 4-byte header, a token of 0-8 bytes, options
 * delta-encoded with the 13/14 extended forms, and a payload after a 0xFF marker.
 *
 * decode() never throws: a datagram is either a message, a format error that still names the
 * type, message id and (when readable) token so a CON can be answered with RST (§4.2), or a
 * datagram to ignore silently (wrong version, shorter than a header; §3).
 */
import { Code, MAX_TOKEN_LENGTH, type MessageType } from './constants.ts';

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapMessage {
  type: MessageType;
  code: number;
  messageId: number;
  token: Buffer;
  /** Sorted by number; repeated options keep their order (§5.4.5). */
  options: CoapOption[];
  payload: Buffer;
}

export type DecodeResult =
  | { kind: 'message'; message: CoapMessage }
  | { kind: 'format-error'; type: MessageType; messageId: number; reason: string }
  | { kind: 'ignore'; reason: string };

const EMPTY = Buffer.alloc(0);

export function decode(buf: Buffer): DecodeResult {
  // §3: shorter than the header, or a version other than 1, is silently ignored.
  if (buf.length < 4) return { kind: 'ignore', reason: 'shorter than the header' };
  const b0 = buf[0]!;
  if (b0 >> 6 !== 1) return { kind: 'ignore', reason: 'version is not 1' };
  const type = ((b0 >> 4) & 3) as MessageType;
  const tkl = b0 & 0x0f;
  const code = buf[1]!;
  const messageId = buf.readUInt16BE(2);
  const fail = (reason: string): DecodeResult => ({ kind: 'format-error', type, messageId, reason });
  // §3: lengths 9-15 are reserved and processed as a message format error.
  if (tkl > MAX_TOKEN_LENGTH) return fail('token length over 8');
  // §4.1: an Empty message has no token, options or payload.
  if (code === Code.EMPTY && (tkl !== 0 || buf.length !== 4)) return fail('empty message with content');
  if (buf.length < 4 + tkl) return fail('truncated token');
  const token = buf.subarray(4, 4 + tkl);
  const options: CoapOption[] = [];
  let pos = 4 + tkl;
  let number = 0;
  while (pos < buf.length) {
    const byte = buf[pos++]!;
    if (byte === 0xff) {
      // §3: a marker followed by a zero-length payload is a message format error.
      if (pos === buf.length) return fail('payload marker with empty payload');
      return { kind: 'message', message: { type, code, messageId, token, options, payload: buf.subarray(pos) } };
    }
    let delta = byte >> 4;
    let length = byte & 0x0f;
    // §3.1: 15 is reserved in either nibble unless both are 15 (the payload marker).
    if (delta === 15 || length === 15) return fail('reserved option nibble 15');
    if (delta === 13) {
      if (pos + 1 > buf.length) return fail('truncated option delta');
      delta = buf[pos]! + 13;
      pos += 1;
    } else if (delta === 14) {
      if (pos + 2 > buf.length) return fail('truncated option delta');
      delta = buf.readUInt16BE(pos) + 269;
      pos += 2;
    }
    if (length === 13) {
      if (pos + 1 > buf.length) return fail('truncated option length');
      length = buf[pos]! + 13;
      pos += 1;
    } else if (length === 14) {
      if (pos + 2 > buf.length) return fail('truncated option length');
      length = buf.readUInt16BE(pos) + 269;
      pos += 2;
    }
    if (pos + length > buf.length) return fail('truncated option value');
    number += delta;
    if (number > 0xffff) return fail('option number over 65535');
    options.push({ number, value: buf.subarray(pos, pos + length) });
    pos += length;
  }
  return { kind: 'message', message: { type, code, messageId, token, options, payload: EMPTY } };
}

function extLen(n: number): number {
  return n < 13 ? 0 : n < 269 ? 1 : 2;
}

function nibbleOf(n: number): number {
  return n < 13 ? n : n < 269 ? 13 : 14;
}

function writeExt(out: Buffer, pos: number, n: number): number {
  if (n < 13) return pos;
  if (n < 269) {
    out[pos] = n - 13;
    return pos + 1;
  }
  out.writeUInt16BE(n - 269, pos);
  return pos + 2;
}

/** Encodes a message into one buffer; options are sorted by number (stable, so repeated options keep their order). */
export function encode(m: CoapMessage): Buffer {
  if (m.token.length > MAX_TOKEN_LENGTH) throw new RangeError('CoAP token longer than 8 bytes');
  const sorted = m.options.length < 2 ? m.options : [...m.options].sort((a, b) => a.number - b.number);
  let size = 4 + m.token.length + (m.payload.length > 0 ? 1 + m.payload.length : 0);
  let prev = 0;
  for (const o of sorted) {
    size += 1 + extLen(o.number - prev) + extLen(o.value.length) + o.value.length;
    prev = o.number;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x40 | (m.type << 4) | m.token.length;
  out[1] = m.code;
  out.writeUInt16BE(m.messageId & 0xffff, 2);
  let pos = 4 + m.token.copy(out, 4);
  prev = 0;
  for (const o of sorted) {
    const delta = o.number - prev;
    const len = o.value.length;
    out[pos++] = (nibbleOf(delta) << 4) | nibbleOf(len);
    pos = writeExt(out, pos, delta);
    pos = writeExt(out, pos, len);
    pos += o.value.copy(out, pos);
    prev = o.number;
  }
  if (m.payload.length > 0) {
    out[pos++] = 0xff;
    m.payload.copy(out, pos);
  }
  return out;
}

/** An unsigned integer option value: shortest big-endian form, 0 as zero bytes (§3.2). */
export function uintOption(n: number): Buffer {
  if (n === 0) return EMPTY;
  const bytes: number[] = [];
  let v = n;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}

export function readUint(value: Buffer): number {
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

export function optionValues(m: CoapMessage, number: number): Buffer[] {
  const out: Buffer[] = [];
  for (const o of m.options) if (o.number === number) out.push(o.value);
  return out;
}

export function firstOption(m: CoapMessage, number: number): Buffer | undefined {
  for (const o of m.options) if (o.number === number) return o.value;
  return undefined;
}

export function uintOf(m: CoapMessage, number: number): number | undefined {
  const v = firstOption(m, number);
  return v === undefined ? undefined : readUint(v);
}

/** Uri-Path segments as strings (each option one segment, §6.5). */
export function uriPath(m: CoapMessage): string[] {
  return optionValues(m, 11).map((v) => v.toString('utf8'));
}
