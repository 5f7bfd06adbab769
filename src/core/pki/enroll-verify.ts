/**
 * Verifying a client certificate ourselves, for EST. The HTTPS listener requests client
 * certificates but does not require them (a device enrolling with a token has none), so Node's
 * handshake verdict is only advisory there; and re-enrollment must accept a certificate that has
 * just expired (the grace period), which the handshake would refuse. So the chain is checked
 * here: issued by Palisade's issuing CA, signature verifies, exactly one Palisade identity URI.
 * Validity dates, revocation and the device's state are the caller's (it has the store).
 */
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { BOOTSTRAP_URN_PREFIX } from './enroll-bootstrap.ts';
import { DEVICE_ID_PATTERN, DEVICE_URN_PREFIX } from './identity.ts';
import { infoOf, parseCertificate } from './info.ts';
import { webcrypto } from './keys.ts';
import type { CertificateAuthority, CertificateInfo } from './types.ts';

export interface VerifiedClientCertificate extends CertificateInfo {
  /** `device`: an ordinary device certificate; `bootstrap`: one that may only enroll. */
  role: 'device' | 'bootstrap';
  deviceId: string;
}

function refuse(message: string, detail?: Record<string, unknown>): PalisadeError {
  return new PalisadeError(ErrorCodes.AUTH_FAILED, message, detail === undefined ? undefined : { detail });
}

/** The one Palisade identity of a certificate, from its SAN URIs; ambiguity is refused. */
function identityOf(cert: x509.X509Certificate): { role: 'device' | 'bootstrap'; deviceId: string } {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const found: { role: 'device' | 'bootstrap'; deviceId: string }[] = [];
  for (const name of san?.names.items ?? []) {
    if (name.type !== 'url') continue;
    if (name.value.startsWith(DEVICE_URN_PREFIX)) found.push({ role: 'device', deviceId: name.value.slice(DEVICE_URN_PREFIX.length) });
    else if (name.value.startsWith(BOOTSTRAP_URN_PREFIX)) found.push({ role: 'bootstrap', deviceId: name.value.slice(BOOTSTRAP_URN_PREFIX.length) });
  }
  const only = found.length === 1 ? found[0] : undefined;
  if (only === undefined || !DEVICE_ID_PATTERN.test(only.deviceId)) throw refuse('client certificate does not carry exactly one Palisade device or bootstrap identity', { identities: found.length });
  return only;
}

/**
 * Checks that `der` is a certificate Palisade's issuing CA signed for a device or bootstrap
 * identity. Dates are not checked here (see the module comment).
 */
export async function verifyClientCertificate(ca: CertificateAuthority, der: Uint8Array): Promise<VerifiedClientCertificate> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'client certificate cannot be parsed', { cause });
  }
  const issuer = parseCertificate(ca.issuing.certPem);
  // RFC 5280 §6.1.3 (a)(4): the issuer name must chain to the CA's subject.
  if (!Buffer.from(cert.issuerName.toArrayBuffer()).equals(Buffer.from(issuer.subjectName.toArrayBuffer()))) {
    throw refuse('client certificate was not issued by the Palisade issuing CA', { issuer: cert.issuer });
  }
  let ok: boolean;
  try {
    // RFC 5280 §6.1.3 (a)(1): the signature verifies under the issuing CA's public key.
    ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }, webcrypto);
  } catch {
    ok = false;
  }
  if (!ok) throw refuse('client certificate signature does not verify under the Palisade issuing CA');
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku === null || !eku.usages.includes(x509.ExtendedKeyUsage.clientAuth)) throw refuse('client certificate is not a TLS client certificate');
  return { ...identityOf(cert), ...infoOf(cert) };
}
