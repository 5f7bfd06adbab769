/**
 * Envelope encryption of secrets at rest (DESIGN.md §2 core/secrets). Each record gets a fresh
 * random 256-bit data key; the record is AES-256-GCM encrypted under it, and the data key is
 * AES-256-GCM wrapped under the keyring's current master key. Both layers authenticate the
 * caller's context string (`ca:issuing-key`, `device:<id>:psk`), so a ciphertext moved to
 * another record does not open. Rotating the master key re-wraps 32 bytes per record and
 * leaves the bulk ciphertext untouched.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { Keyring, MasterKey } from './keyring.ts';
import { DATA_KEY_BYTES, IV_BYTES, TAG_BYTES, formatSealed, parseSealed } from './sealed-format.ts';

const MAX_CONTEXT = 1024;

/** A keyring, or a function returning the latest one (a file that `keys rotate` may rewrite). */
export type KeyringSource = Keyring | (() => Keyring);

function dataAad(context: string): Buffer {
  return Buffer.from(`palisade/v1/data\0${context}`, 'utf8');
}

/** The wrap binds the data key to its master key id and to the record's context too. */
function wrapAad(kid: string, context: string): Buffer {
  return Buffer.from(`palisade/v1/wrap\0${kid}\0${context}`, 'utf8');
}

function checkContext(context: string): void {
  if (typeof context !== 'string' || context.length === 0 || context.length > MAX_CONTEXT) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `secret context must be a non-empty string of at most ${MAX_CONTEXT} characters`);
  }
}

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Null when the tag does not verify: wrong key, wrong AAD or altered bytes. */
function decrypt(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | null {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}

export class SecretBox {
  readonly #source: () => Keyring;

  constructor(source: KeyringSource) {
    this.#source = typeof source === 'function' ? source : () => source;
  }

  get keyring(): Keyring {
    return this.#source();
  }

  seal(plaintext: Buffer | string, context: string): string {
    checkContext(context);
    const kek = this.#source().current;
    const dataKey = randomBytes(DATA_KEY_BYTES);
    try {
      const body = encrypt(dataKey, typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext, dataAad(context));
      const wrap = encrypt(kek.key, dataKey, wrapAad(kek.id, context));
      return formatSealed({ kid: kek.id, wrapIv: wrap.iv, wrappedKey: wrap.ciphertext, wrapTag: wrap.tag, iv: body.iv, tag: body.tag, ciphertext: body.ciphertext });
    } finally {
      dataKey.fill(0);
    }
  }

  open(sealed: string, context: string): Buffer {
    checkContext(context);
    const p = parseSealed(sealed);
    const dataKey = this.#unwrap(p.kid, p.wrapIv, p.wrappedKey, p.wrapTag, context);
    try {
      const plain = decrypt(dataKey, p.iv, p.ciphertext, p.tag, dataAad(context));
      if (!plain) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `sealed record "${context}" does not authenticate: wrong context or altered`, { detail: { reason: 'authentication', context } });
      return plain;
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Re-wraps the record's data key under `target` (default: the current master key). The bulk
   * ciphertext, its IV and tag are carried over byte for byte.
   */
  rewrap(sealed: string, context: string, target?: MasterKey): string {
    checkContext(context);
    const p = parseSealed(sealed);
    const kek = target ?? this.#source().current;
    const dataKey = this.#unwrap(p.kid, p.wrapIv, p.wrappedKey, p.wrapTag, context);
    try {
      const wrap = encrypt(kek.key, dataKey, wrapAad(kek.id, context));
      return formatSealed({ ...p, kid: kek.id, wrapIv: wrap.iv, wrappedKey: wrap.ciphertext, wrapTag: wrap.tag });
    } finally {
      dataKey.fill(0);
    }
  }

  #unwrap(kid: string, iv: Buffer, wrapped: Buffer, tag: Buffer, context: string): Buffer {
    const keyring = this.#source();
    const kek = keyring.get(kid);
    if (!kek) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `sealed record "${context}" is wrapped under master key ${kid}, which the keyring does not hold (it holds ${keyring.ids.join(', ')})`, { detail: { reason: 'unknown-key', context, kid } });
    }
    const dataKey = decrypt(kek.key, iv, wrapped, tag, wrapAad(kid, context));
    if (!dataKey) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `sealed record "${context}": data key does not unwrap under master key ${kid}: wrong context, wrong key or altered`, { detail: { reason: 'authentication', context, kid } });
    return dataKey;
  }
}
