/**
 * Pure shadow document operations: merging an update (AWS IoT semantics: objects merge key by
 * key, `null` deletes a key, arrays and scalars replace), the delta, and metadata timestamps.
 */
import type { JsonObject, JsonValue, ShadowMetadata } from './types.ts';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `base` with `patch` applied; neither is modified. */
export function mergeState(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = mergeState(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** Metadata for `patch` merged into `base`: each leaf written gets `{ timestamp }`. */
export function mergeMetadata(base: ShadowMetadata, patch: JsonObject, timestamp: number): ShadowMetadata {
  const out: ShadowMetadata = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v)) out[k] = mergeMetadata(isObject(out[k]) ? out[k] : {}, v, timestamp);
    else out[k] = { timestamp };
  }
  return out;
}

/** Metadata of the keys in `patch` only (what an accepted reply carries). */
export function metadataOf(patch: JsonObject, timestamp: number): ShadowMetadata {
  return mergeMetadata({}, patch, timestamp);
}

function equal(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Desired keys whose value differs from reported; nested objects compared key by key. */
export function computeDelta(desired: JsonObject, reported: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, want] of Object.entries(desired)) {
    const have = reported[k];
    if (isObject(want) && isObject(have)) {
      const sub = computeDelta(want, have);
      if (Object.keys(sub).length > 0) out[k] = sub;
    } else if (!equal(want, have)) out[k] = want;
  }
  return out;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return isObject(v);
}
