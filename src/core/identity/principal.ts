/**
 * Who is talking (DESIGN.md §1). Protocol adapters produce a Principal through
 * identity.authenticate; everything after that decides on the Principal, never on what the
 * client claims about itself (its client id, a header).
 */
import { QUARANTINE_SEGMENT } from '../policy/builtin.ts';

export type AuthMethod = 'certificate' | 'password' | 'anonymous' | 'psk';

export interface DevicePrincipal {
  kind: 'device';
  id: string;
  segment: string;
  authMethod: AuthMethod;
  attrs: Readonly<Record<string, string>>;
  /** Serial of the client certificate the session was authenticated with, if any. */
  certSerial: string | null;
  certCommonName: string | null;
  /**
   * Posture, read by policy conditions. Optional so that principals built before posture was
   * tracked keep compiling; absent `quarantined` means not quarantined, absent `firmwareCurrent`
   * and `certNotAfter` mean unknown (an allow that needs them does not apply, a deny does).
   */
  quarantined?: boolean;
  firmwareCurrent?: boolean;
  /** notAfter of the session's client certificate, epoch milliseconds. */
  certNotAfter?: number | null;
}

export type Principal = DevicePrincipal;

/** What a principal takes from its device record; the device's current state, re-read on change. */
export interface DevicePosture {
  segment: string;
  attrs: Readonly<Record<string, string>>;
}

/**
 * The same authenticated principal (method, certificate) judged by the device's current record:
 * a device moved to the `quarantine` segment is quarantined from this moment.
 */
export function withDeviceState(p: DevicePrincipal, d: DevicePosture): DevicePrincipal {
  return { ...p, segment: d.segment, attrs: d.attrs, quarantined: d.segment === QUARANTINE_SEGMENT };
}

export function principalKey(p: Principal): string {
  return `${p.kind}:${p.id}`;
}
