/**
 * The replay-protection wire format (issue 5, point 5), shared by the gateway and devices.
 *
 * A protected message carries one stamp, either
 *  - a counter: a positive integer, monotonic per device and direction (device → gateway for
 *    messages on protected topics, gateway → device for commands), never reused; or
 *  - a nonce + timestamp: at least 96 random bits (>= 24 characters of base64url or hex) and the
 *    sender's clock in milliseconds since the epoch, accepted within ±maxSkew of the receiver's.
 *
 * MQTT 5 — user properties, payload untouched:
 *    palisade-ctr   = "42"                      (decimal, 1 .. 2^53-1)
 *    palisade-nonce = "q3V0aGVudGljYXRlZC1ub25jZQ", palisade-ts = "1767225600000"
 *
 * MQTT 3.1.1, HTTP and CoAP (no user properties) — a JSON envelope as the whole payload:
 *    {"palisade":{"ctr":42},"payload":<the original JSON value>}
 *    {"palisade":{"nonce":"...","ts":1767225600000},"payloadB64":"<base64 of the original bytes>"}
 * Exactly one of `payload` / `payloadB64`; no other members. The receiver routes the original:
 * `payloadB64` decoded byte for byte, `payload` re-serialised compactly by JSON.stringify (send
 * `payloadB64` when the exact bytes matter). MQTT 5 clients may use the envelope too.
 *
 * This module imports nothing, so a device can copy the kit and run it on plain Node.
 */

export const CTR_PROPERTY = 'palisade-ctr';
export const NONCE_PROPERTY = 'palisade-nonce';
export const TS_PROPERTY = 'palisade-ts';

export type ReplayStamp = { kind: 'ctr'; ctr: number } | { kind: 'nonce'; nonce: string; ts: number };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** What a receiver found: a stamp and the payload to hand on; `none` when the message carries no stamp at all. */
export type StampReading = { ok: true; stamp: ReplayStamp; payload: Buffer | null } | { ok: false; error: string } | { ok: 'none' };

const DECIMAL = /^[1-9][0-9]{0,15}$/;
const NONCE = /^[A-Za-z0-9_-]{24,128}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** fatal: a payload that is not UTF-8 is not an envelope (rather than one with U+FFFD in it). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function counterFrom(v: unknown): number | null {
  const n = typeof v === 'string' ? (DECIMAL.test(v) ? Number(v) : NaN) : typeof v === 'number' ? v : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

function timestampFrom(v: unknown): number | null {
  const n = typeof v === 'string' ? (DECIMAL.test(v) ? Number(v) : NaN) : typeof v === 'number' ? v : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

function stampFrom(ctr: unknown, nonce: unknown, ts: unknown): ReplayStamp | string {
  if (ctr !== undefined) {
    if (nonce !== undefined || ts !== undefined) return 'both a counter and a nonce';
    const c = counterFrom(ctr);
    return c === null ? 'malformed counter' : { kind: 'ctr', ctr: c };
  }
  if (nonce === undefined) return 'no counter or nonce';
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) return 'malformed nonce (at least 96 bits, base64url or hex)';
  const t = timestampFrom(ts);
  return t === null ? 'nonce without a valid timestamp' : { kind: 'nonce', nonce, ts: t };
}

/** MQTT 5 user properties; a repeated palisade-* property is malformed (which one would count?). */
export function readStampProperties(props: Readonly<Record<string, string | string[]>>): StampReading {
  const ctr = props[CTR_PROPERTY];
  const nonce = props[NONCE_PROPERTY];
  const ts = props[TS_PROPERTY];
  if (ctr === undefined && nonce === undefined && ts === undefined) return { ok: 'none' };
  if (Array.isArray(ctr) || Array.isArray(nonce) || Array.isArray(ts)) return { ok: false, error: 'repeated replay property' };
  const s = stampFrom(ctr, nonce, ts);
  return typeof s === 'string' ? { ok: false, error: s } : { ok: true, stamp: s, payload: null };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Byte 0x7b '{' after optional JSON whitespace: anything else cannot be an envelope, without parsing. */
function startsLikeObject(b: Uint8Array): boolean {
  for (const c of b) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b;
  }
  return false;
}

/** The envelope; `none` when the payload is not one (not a JSON object with a `palisade` member). */
export function readEnvelope(payload: Uint8Array): StampReading {
  if (!startsLikeObject(payload)) return { ok: 'none' };
  let doc: unknown;
  try {
    doc = JSON.parse(UTF8.decode(payload));
  } catch {
    return { ok: 'none' };
  }
  if (!isObject(doc) || !('palisade' in doc)) return { ok: 'none' };
  const meta = doc.palisade;
  if (!isObject(meta)) return { ok: false, error: 'malformed replay envelope' };
  for (const k of Object.keys(doc)) if (k !== 'palisade' && k !== 'payload' && k !== 'payloadB64') return { ok: false, error: `unexpected envelope member ${k.slice(0, 40)}` };
  for (const k of Object.keys(meta)) if (k !== 'ctr' && k !== 'nonce' && k !== 'ts') return { ok: false, error: `unexpected envelope member palisade.${k.slice(0, 40)}` };
  const s = stampFrom(meta.ctr, meta.nonce, meta.ts);
  if (typeof s === 'string') return { ok: false, error: s };
  const hasJson = 'payload' in doc;
  const b64 = doc.payloadB64;
  if (hasJson === (b64 !== undefined)) return { ok: false, error: 'envelope needs exactly one of payload and payloadB64' };
  if (hasJson) return { ok: true, stamp: s, payload: Buffer.from(JSON.stringify(doc.payload)) };
  if (typeof b64 !== 'string' || b64.length % 4 !== 0 || !BASE64.test(b64)) return { ok: false, error: 'malformed payloadB64' };
  return { ok: true, stamp: s, payload: Buffer.from(b64, 'base64') };
}

/** Properties first (MQTT 5), then the envelope. */
export function readStamp(props: Readonly<Record<string, string | string[]>>, payload: Uint8Array): StampReading {
  const fromProps = readStampProperties(props);
  return fromProps.ok === 'none' ? readEnvelope(payload) : fromProps;
}

export function stampProperties(stamp: ReplayStamp): Record<string, string> {
  return stamp.kind === 'ctr' ? { [CTR_PROPERTY]: String(stamp.ctr) } : { [NONCE_PROPERTY]: stamp.nonce, [TS_PROPERTY]: String(stamp.ts) };
}

/** Wraps `payload`: bytes travel as payloadB64, any other value as JSON in `payload`. */
export function encodeEnvelope(stamp: ReplayStamp, payload: Uint8Array | JsonValue): Buffer {
  const palisade = stamp.kind === 'ctr' ? { ctr: stamp.ctr } : { nonce: stamp.nonce, ts: stamp.ts };
  const body = payload instanceof Uint8Array ? { palisade, payloadB64: Buffer.from(payload).toString('base64') } : { palisade, payload };
  return Buffer.from(JSON.stringify(body));
}
