/**
 * Device shadows (issue 4, point 5): the stored document and its port. Semantics follow AWS IoT
 * device shadows: `desired` (what operators want), `reported` (what the device says), `delta`
 * (desired keys whose value differs from reported, computed, never stored), a version that
 * grows by one with each update, and per-key metadata timestamps.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

/** Same shape as a state section, with `{ timestamp }` (epoch seconds, as AWS) at each leaf. */
export type ShadowMetadata = { [k: string]: unknown };

export interface ShadowRecord {
  deviceId: string;
  state: { desired: JsonObject; reported: JsonObject };
  metadata: { desired: ShadowMetadata; reported: ShadowMetadata };
  version: number;
  updatedAt: number;
}

export interface ShadowRepo {
  get(deviceId: string): Promise<ShadowRecord | null>;
  /**
   * Stores `record` only when the stored version is `expectedVersion` (0: no shadow yet);
   * false otherwise (someone else updated it in between). Atomic.
   */
  put(record: ShadowRecord, expectedVersion: number): Promise<boolean>;
  delete(deviceId: string): Promise<boolean>;
}
