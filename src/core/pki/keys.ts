/**
 * Crypto plumbing shared by the PKI files: the WebCrypto provider handed to @peculiar/x509,
 * P-256 key generation, PKCS#8 PEM export/import, serial numbers, and the public-key strength
 * policy applied to keys we did not generate ourselves.
 *
 * The provider is passed explicitly to every @peculiar/x509 call instead of being installed with
 * `cryptoProvider.set()`, so importing this module has no process-wide side effect.
 */
import { createPrivateKey, createPublicKey, randomBytes, webcrypto as nodeWebcrypto, type KeyObject } from 'node:crypto';
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';

// @types/node only declares the WebCrypto types inside the `webcrypto` namespace (no DOM lib here).
export type CryptoKey = nodeWebcrypto.CryptoKey;
export type CryptoKeyPair = nodeWebcrypto.CryptoKeyPair;

export const webcrypto: nodeWebcrypto.Crypto = nodeWebcrypto;

/** ECDSA over P-256 with SHA-256: the profile's only algorithm for keys we generate (RFC 5480 §2.1.1.1). */
export const P256: nodeWebcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

export function generateP256(): Promise<CryptoKeyPair> {
  // Extractable because the private key is handed back to the caller as PKCS#8 PEM.
  return webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return withTrailingNewline(x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'));
}

/** PEM as files and CA bundles expect it: LF line endings and a final newline, so concatenation stays valid. */
export function withTrailingNewline(pem: string): string {
  const lf = pem.replace(/\r\n/g, '\n').trimEnd();
  return `${lf}\n`;
}

export interface SigningKey {
  key: CryptoKey;
  algorithm: nodeWebcrypto.EcdsaParams;
}

const CURVES: Readonly<Record<string, { namedCurve: string; hash: string }>> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
};

/**
 * Loads a CA private key for signing and checks that it belongs to `cert`: a store that paired
 * the wrong key with a certificate would otherwise produce leaves that fail verification only
 * later, at a device.
 */
export async function importSigningKey(keyPem: string, cert: x509.X509Certificate): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CA private key is not a readable PEM private key', { cause });
  }
  const curve = keyObject.asymmetricKeyType === 'ec' ? CURVES[keyObject.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (curve === undefined) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CA private key must be ECDSA P-256 or P-384');
  }
  const ownSpki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  if (!ownSpki.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CA private key does not match its certificate', { detail: { subject: cert.subject } });
  }
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve.namedCurve }, false, ['sign']);
  return { key, algorithm: { name: 'ECDSA', hash: curve.hash } };
}

/**
 * A fresh serial: 16 random octets, positive and non-zero as RFC 5280 §4.1.2.2 requires (at most
 * 20 octets). The top bit is cleared so DER needs no sign-padding octet and bit 6 is set so the
 * encoding never shrinks, which keeps every serial exactly 32 hex digits with 126 random bits.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/**
 * The key-strength policy for public keys submitted by devices (CSRs). Fail closed: anything not
 * listed is refused, including RSA-PSS-only keys, Ed448 and DSA.
 */
export function assertAcceptablePublicKey(spkiDer: ArrayBuffer): string {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR public key cannot be parsed', { cause });
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) {
      throw new PalisadeError(ErrorCodes.PKI_FAILURE, `RSA key of ${bits} bits is too weak (minimum 2048)`, { detail: { keyType: type, bits } });
    }
    return `rsa-${bits}`;
  }
  if (type === 'ec') {
    const curve = details.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1') return curve === 'prime256v1' ? 'ec-p256' : 'ec-p384';
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, `EC curve ${curve ?? 'unknown'} is not accepted (P-256 or P-384 only)`, { detail: { keyType: type, curve } });
  }
  if (type === 'ed25519') return 'ed25519';
  throw new PalisadeError(ErrorCodes.PKI_FAILURE, `public key type ${type ?? 'unknown'} is not accepted`, { detail: { keyType: type } });
}
