/**
 * Client certificate checks for the ECDHE_ECDSA suites. node:tls does this for TLS, but DTLS has
 * no node:tls, so the chain is verified here: every certificate signed by the next, the last by
 * one of Palisade's CA certificates, all within their validity, intermediates marked CA, a P-256
 * leaf (the only curve the CertificateVerify check accepts) that is allowed client
 * authentication, and a Palisade device URI in the subjectAltName (src/core/pki/identity.ts).
 * Revocation is the caller's verifyPeer hook (a store lookup).
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import { normalizeSerial } from '../../core/fleet/register-device.ts';
import { deviceIdFromSan } from '../../core/pki/identity.ts';

export type CertVerdict = { ok: true; identity: PeerCertificateIdentity; leaf: X509Certificate } | { ok: false; reason: 'bad_certificate' | 'unknown_ca' | 'certificate_expired' | 'unsupported_certificate' };

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const MAX_CHAIN = 4;

export function parsePemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function withinValidity(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

function commonName(cert: X509Certificate): string | null {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? null : line.slice(3);
}

export function verifyClientChain(chainDer: Buffer[], trusted: X509Certificate[], now = new Date()): CertVerdict {
  if (chainDer.length === 0 || chainDer.length > MAX_CHAIN) return { ok: false, reason: 'bad_certificate' };
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((der) => new X509Certificate(der));
  } catch {
    return { ok: false, reason: 'bad_certificate' };
  }
  const leaf = chain[0]!;
  for (const cert of chain) if (!withinValidity(cert, now)) return { ok: false, reason: 'certificate_expired' };
  // Walk up: stop at the first certificate a trusted CA issued (a client may or may not append intermediates/root).
  let anchored = false;
  for (let i = 0; i < chain.length && !anchored; i++) {
    const cert = chain[i]!;
    if (i > 0 && !cert.ca) return { ok: false, reason: 'bad_certificate' };
    const trustedIssuer = trusted.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (trustedIssuer !== undefined) {
      anchored = true;
      break;
    }
    const next = chain[i + 1];
    if (next === undefined) break;
    if (!cert.checkIssued(next) || !cert.verify(next.publicKey)) return { ok: false, reason: 'bad_certificate' };
  }
  if (!anchored) return { ok: false, reason: 'unknown_ca' };
  if (leaf.publicKey.asymmetricKeyType !== 'ec' || leaf.publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return { ok: false, reason: 'unsupported_certificate' };
  const eku = leaf.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(CLIENT_AUTH)) return { ok: false, reason: 'unsupported_certificate' };
  const deviceId = deviceIdFromSan(leaf.subjectAltName);
  if (deviceId === null) return { ok: false, reason: 'bad_certificate' };
  return { ok: true, leaf, identity: { deviceId, serial: normalizeSerial(leaf.serialNumber), commonName: commonName(leaf) } };
}
