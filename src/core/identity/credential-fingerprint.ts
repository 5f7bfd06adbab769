/**
 * Keyed fingerprints of device credentials, so two devices sharing one password show although
 * each hash is salted (issue 3, point 3). HMAC-SHA256 (RFC 2104) under a dedicated random
 * 256-bit key that is sealed at rest (src/store/credential-fingerprint-key.ts): without the key
 * a fingerprint is no faster to attack than the scrypt hash beside it, unlike a plain hash,
 * which would give an offline guesser a fast oracle. The key is its own random key, not one
 * derived from the master key, so `palisade keys rotate` re-wraps it without changing any
 * fingerprint.
 */
import { createHmac } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';

export const FINGERPRINT_KEY_BYTES = 32;

/** Domain separation: the key fingerprints credentials and nothing else. */
const LABEL = 'palisade/v1/credential-fingerprint\0';

/** Lower-case hex HMAC-SHA256 of the exact secret bytes. */
export function credentialFingerprint(key: Buffer, secret: string | Buffer): string {
  if (key.length !== FINGERPRINT_KEY_BYTES) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `credential fingerprint key must be ${FINGERPRINT_KEY_BYTES} bytes`);
  return createHmac('sha256', key).update(LABEL).update(secret).digest('hex');
}
