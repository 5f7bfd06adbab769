/**
 * The four cipher suites this server negotiates and their AEAD record protection.
 * - TLS_PSK_WITH_AES_128_CCM_8 (0xC0A8, RFC 6655 §4) and TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
 *   (0xC0AE, RFC 7251 §2): mandatory for CoAP over DTLS (RFC 7252 §9.1.3.1, §9.1.3.3).
 * - TLS_PSK_WITH_AES_128_GCM_SHA256 (0x00A8, RFC 5487 §3) and
 *   TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B, RFC 5289 §3).
 * All four use a 4-byte implicit salt and an 8-byte explicit nonce carried in the record
 * (RFC 5288 §3, RFC 6655 §3); the explicit part is the record's epoch and sequence number, which
 * is unique per key.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export type KeyExchange = 'psk' | 'ecdhe_ecdsa';

export interface CipherSuite {
  id: number;
  name: string;
  keyExchange: KeyExchange;
  algorithm: 'aes-128-ccm' | 'aes-128-gcm';
  tagLength: 8 | 16;
}

export const SUITES: readonly CipherSuite[] = [
  { id: 0xc0ae, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', keyExchange: 'ecdhe_ecdsa', algorithm: 'aes-128-ccm', tagLength: 8 },
  { id: 0xc02b, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', keyExchange: 'ecdhe_ecdsa', algorithm: 'aes-128-gcm', tagLength: 16 },
  { id: 0xc0a8, name: 'TLS_PSK_WITH_AES_128_CCM_8', keyExchange: 'psk', algorithm: 'aes-128-ccm', tagLength: 8 },
  { id: 0x00a8, name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', keyExchange: 'psk', algorithm: 'aes-128-gcm', tagLength: 16 },
];

export function suiteById(id: number): CipherSuite | undefined {
  return SUITES.find((s) => s.id === id);
}

const EXPLICIT_NONCE = 8;

/** additional_data = seq_num + type + version + length of the plaintext (RFC 5246 §6.2.3.3; RFC 6347 §4.1.2.1 uses epoch + seq as seq_num). */
function additionalData(seqBytes: Buffer, type: number, version: number, length: number): Buffer {
  const ad = Buffer.alloc(13);
  seqBytes.copy(ad, 0);
  ad[8] = type;
  ad.writeUInt16BE(version, 9);
  ad.writeUInt16BE(length, 11);
  return ad;
}

/** One direction's record protection. */
export class AeadState {
  readonly #suite: CipherSuite;
  readonly #key: Buffer;
  readonly #salt: Buffer;

  constructor(suite: CipherSuite, key: Buffer, salt: Buffer) {
    this.#suite = suite;
    this.#key = key;
    this.#salt = salt;
  }

  get overhead(): number {
    return EXPLICIT_NONCE + this.#suite.tagLength;
  }

  /** Returns explicit_nonce + ciphertext + tag (the record's fragment). */
  seal(seqBytes: Buffer, type: number, version: number, plaintext: Buffer): Buffer {
    const nonce = Buffer.concat([this.#salt, seqBytes]);
    const aad = additionalData(seqBytes, type, version, plaintext.length);
    const tagLength = this.#suite.tagLength;
    if (this.#suite.algorithm === 'aes-128-ccm') {
      const cipher = createCipheriv('aes-128-ccm', this.#key, nonce, { authTagLength: tagLength });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([seqBytes, body, cipher.getAuthTag()]);
    }
    const cipher = createCipheriv('aes-128-gcm', this.#key, nonce, { authTagLength: tagLength });
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([seqBytes, body, cipher.getAuthTag()]);
  }

  /** Returns the plaintext, or null when the record does not authenticate (never throws). */
  open(seqBytes: Buffer, type: number, version: number, fragment: Buffer): Buffer | null {
    const tagLength = this.#suite.tagLength;
    if (fragment.length < EXPLICIT_NONCE + tagLength) return null;
    const nonce = Buffer.concat([this.#salt, fragment.subarray(0, EXPLICIT_NONCE)]);
    const ciphertext = fragment.subarray(EXPLICIT_NONCE, fragment.length - tagLength);
    const tag = fragment.subarray(fragment.length - tagLength);
    const aad = additionalData(seqBytes, type, version, ciphertext.length);
    try {
      if (this.#suite.algorithm === 'aes-128-ccm') {
        const decipher = createDecipheriv('aes-128-ccm', this.#key, nonce, { authTagLength: tagLength });
        decipher.setAuthTag(tag);
        decipher.setAAD(aad, { plaintextLength: ciphertext.length });
        const plain = decipher.update(ciphertext);
        decipher.final();
        return plain;
      }
      const decipher = createDecipheriv('aes-128-gcm', this.#key, nonce, { authTagLength: tagLength });
      decipher.setAuthTag(tag);
      decipher.setAAD(aad);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      return null;
    }
  }
}
