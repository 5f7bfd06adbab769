/**
 * The store port for device pre-shared keys (CoAP over DTLS, RFC 7252 §9.1.3.1; RFC 4279):
 * one PSK per device, stored only sealed with the SecretBox under context `device-psk:<id>`.
 * Re-exported from core/ports.ts; implemented by store/sqlite/device-psk-repo.ts.
 */
export interface DevicePskRecord {
  deviceId: string;
  sealed: string;
  createdAt: number;
}

export interface DevicePskRepo {
  /** Sets (or replaces) the device's sealed PSK. */
  put(record: DevicePskRecord): Promise<void>;
  get(deviceId: string): Promise<DevicePskRecord | null>;
  list(): Promise<DevicePskRecord[]>;
  delete(deviceId: string): Promise<boolean>;
  /** Replaces the sealed PSK only if it still equals `previous` (key rotation). */
  reseal(deviceId: string, previous: string, next: string): Promise<boolean>;
}
