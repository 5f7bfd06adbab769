/**
 * The hash chain of the security event log (issue 3, point 9), in one place so the store that
 * writes events and the verifier that checks them cannot disagree.
 *
 * Serialisation (scheme "palisade-event-v2"), for anyone re-implementing the check:
 *
 *   hash = lowercase hex SHA-256 of the UTF-8 bytes of
 *          "palisade-event-v2\n" + prevHash + "\n" + canonical([id, ts, type, severity, principal, source, detail])
 *
 * where canonical() is RFC 8785 (JSON Canonicalization Scheme): no whitespace, object keys
 * sorted by UTF-16 code units, numbers and strings as ECMAScript JSON.stringify writes them.
 * The fields go in an array so their order is fixed; the id is inside, so renumbering rows to
 * hide a deletion or an insertion changes every hash from that row on. prevHash of the first
 * event is GENESIS (64 zeros).
 *
 * Events stored before schema v5 used the older "v1" formula (no id, no domain tag, detail in
 * insertion order); `hashEventV1` keeps a log that began before the upgrade verifiable.
 */
import { createHash } from 'node:crypto';
import type { SecurityEventInput } from '../ports.ts';

export const GENESIS = '0'.repeat(64);
export const EVENT_HASH_SCHEME = 'palisade-event-v2';

/** RFC 8785 canonical JSON of a JSON value (what JSON.parse returns). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // RFC 8785 §3.2.2: literals, strings and numbers as ECMAScript serialises them.
    const s = JSON.stringify(value) as string | undefined;
    return s ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  // RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names (the default sort).
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash of event `e` with id `id`, chained to `prevHash`. */
export function hashEvent(prevHash: string, e: SecurityEventInput & { id: number }): string {
  const body = canonicalJson([e.id, e.ts, e.type, e.severity, e.principal, e.source, e.detail]);
  return createHash('sha256').update(`${EVENT_HASH_SCHEME}\n${prevHash}\n${body}`, 'utf8').digest('hex');
}

/** The pre-v5 formula, only for verifying events written before the upgrade. */
export function hashEventV1(prevHash: string, e: SecurityEventInput): string {
  return createHash('sha256')
    .update(prevHash)
    .update(JSON.stringify([e.ts, e.type, e.severity, e.principal, e.source, e.detail]))
    .digest('hex');
}
