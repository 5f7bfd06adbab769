/**
 * When a device may re-enroll with its current certificate (issue 3, point 1): from two thirds
 * of the certificate's lifetime, so a device that checks daily renews well before expiry, until
 * a grace period after expiry, so a device that was offline over its expiry date can still
 * renew without an operator (RFC 7030 §4.2.2 leaves the policy to the server).
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';

const DAY_MS = 86_400_000;

export interface ReenrollWindow {
  opensAt: number;
  closesAt: number;
}

export function reenrollWindow(cert: { notBefore: number; notAfter: number }, graceDays: number): ReenrollWindow {
  const lifetime = cert.notAfter - cert.notBefore;
  return { opensAt: cert.notBefore + Math.ceil((lifetime * 2) / 3), closesAt: cert.notAfter + graceDays * DAY_MS };
}

/** Throws REENROLL_TOO_EARLY before the window and ENROLLMENT_REFUSED after it. */
export function assertInReenrollWindow(cert: { serial: string; notBefore: number; notAfter: number }, graceDays: number, now: number): void {
  const w = reenrollWindow(cert, graceDays);
  if (now < w.opensAt) {
    throw new PalisadeError(ErrorCodes.REENROLL_TOO_EARLY, `re-enrollment opens at ${new Date(w.opensAt).toISOString()}, two thirds into the certificate's lifetime`, {
      detail: { serial: cert.serial, opensAt: w.opensAt },
    });
  }
  if (now > w.closesAt) {
    throw new PalisadeError(ErrorCodes.ENROLLMENT_REFUSED, `certificate expired more than ${graceDays} day(s) ago (grace ended ${new Date(w.closesAt).toISOString()}); enroll again with a token or bootstrap certificate`, {
      detail: { serial: cert.serial, closesAt: w.closesAt },
    });
  }
}
