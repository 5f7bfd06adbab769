/**
 * TOTP second factor (RFC 6238) with the otpauth package: HMAC-SHA-1, 6 digits, 30 s steps
 * (RFC 6238 §4 defaults, what every authenticator app reads from an otpauth:// URI), and a
 * window of ±1 step for clock drift (§5.2). A code is accepted once: the caller records the
 * matched step and refuses any code for that step or an earlier one (§5.2, "MUST NOT accept
 * the second attempt of the same OTP").
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;
const ISSUER = 'Palisade';

export interface TotpEnrolment {
  /** otpauth://totp/… for a QR code. */
  otpauthUri: string;
  /** The same seed in base32, for typing in by hand. */
  secret: string;
}

function totp(base32: string, label: string): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(base32) });
}

/** A fresh 160-bit seed (RFC 4226 §4 recommends 160 bits). */
export function newTotpSeed(): string {
  return new Secret({ size: 20 }).base32;
}

export function totpEnrolment(base32: string, username: string): TotpEnrolment {
  return { otpauthUri: totp(base32, username).toString(), secret: base32 };
}

/** The time step the code belongs to, within the window around `now`, or null. */
export function matchTotp(base32: string, code: string, now: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, timestamp: now, window: TOTP_WINDOW });
  if (delta === null) return null;
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: now }) + delta;
}

export function totpContext(username: string): string {
  return `operator:${username}:totp`;
}
