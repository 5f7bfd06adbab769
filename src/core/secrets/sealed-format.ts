/**
 * The text form of a sealed record, version 1:
 *
 *   pal1:<kid>:<wrapIv>:<wrappedKey>:<wrapTag>:<iv>:<tag>:<ciphertext>
 *
 * Fields after the key id are unpadded base64url. `kid` names the master key that wraps the
 * data key; wrapIv/wrappedKey/wrapTag are the AES-256-GCM encryption of the 32-byte data key
 * under it; iv/tag/ciphertext are the record encrypted under the data key. One line of
 * printable ASCII, so it fits a file, a TEXT column or an environment variable.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { KEY_ID_PATTERN } from './keyring.ts';

export const SEALED_PREFIX = 'pal1:';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

export interface SealedParts {
  kid: string;
  wrapIv: Buffer;
  wrappedKey: Buffer;
  wrapTag: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function malformed(why: string): never {
  throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `sealed record is malformed: ${why}`, { detail: { reason: 'malformed' } });
}

function field(text: string, name: string, bytes: number | null): Buffer {
  if (!B64URL.test(text)) malformed(`${name} is not base64url`);
  const buf = Buffer.from(text, 'base64url');
  // Non-canonical encodings would let two strings carry one record; refuse them.
  if (buf.toString('base64url') !== text) malformed(`${name} is not canonical base64url`);
  if (bytes !== null && buf.length !== bytes) malformed(`${name} must be ${bytes} bytes`);
  return buf;
}

export function isSealed(text: string): boolean {
  return text.startsWith(SEALED_PREFIX);
}

export function parseSealed(sealed: string): SealedParts {
  const text = sealed.trim();
  if (!isSealed(text)) malformed(`does not start with ${SEALED_PREFIX}`);
  const parts = text.slice(SEALED_PREFIX.length).split(':');
  if (parts.length !== 7) malformed(`expected 7 fields after the prefix, got ${parts.length}`);
  const [kid, wrapIv, wrappedKey, wrapTag, iv, tag, ciphertext] = parts as [string, string, string, string, string, string, string];
  if (!KEY_ID_PATTERN.test(kid)) malformed('bad key id');
  return {
    kid,
    wrapIv: field(wrapIv, 'wrap IV', IV_BYTES),
    wrappedKey: field(wrappedKey, 'wrapped key', DATA_KEY_BYTES),
    wrapTag: field(wrapTag, 'wrap tag', TAG_BYTES),
    iv: field(iv, 'IV', IV_BYTES),
    tag: field(tag, 'tag', TAG_BYTES),
    ciphertext: field(ciphertext, 'ciphertext', null),
  };
}

export function formatSealed(p: SealedParts): string {
  const b = (x: Buffer): string => x.toString('base64url');
  return `${SEALED_PREFIX}${p.kid}:${b(p.wrapIv)}:${b(p.wrappedKey)}:${b(p.wrapTag)}:${b(p.iv)}:${b(p.tag)}:${b(p.ciphertext)}`;
}

/** The id of the master key a record is wrapped under, without opening it. */
export function sealedKeyId(sealed: string): string {
  return parseSealed(sealed).kid;
}
