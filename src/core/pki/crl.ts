/**
 * The certificate revocation list of the issuing CA (RFC 5280 §5): every revoked device
 * certificate with its revocation time and reason, signed by the issuing CA, with a short
 * nextUpdate so relying parties refetch it.
 */
import * as x509 from './x509.ts';
import { authorityKeyId, nowSeconds } from './ca.ts';
import { importSigningKey, webcrypto } from './keys.ts';
import type { CertificateAuthority } from './types.ts';

export interface RevokedEntry {
  serial: string;
  revokedAt: number;
  reason: string | null;
}

/** RFC 5280 §5.3.1 CRLReason values by name. */
const REASONS: Readonly<Record<string, x509.X509CrlReason>> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
};

export const CRL_REASONS = Object.keys(REASONS);

export interface SignedCrl {
  der: Buffer;
  pem: string;
  thisUpdate: number;
  nextUpdate: number;
}

export async function createCrl(ca: CertificateAuthority, entries: readonly RevokedEntry[], validForMs = 3_600_000): Promise<SignedCrl> {
  const issuer = new x509.X509Certificate(ca.issuing.certPem);
  const signer = await importSigningKey(ca.issuing.keyPem, issuer);
  const thisUpdate = nowSeconds();
  const nextUpdate = thisUpdate + validForMs;
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: issuer.subjectName,
      thisUpdate: new Date(thisUpdate),
      nextUpdate: new Date(nextUpdate),
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      extensions: [await authorityKeyId(issuer)],
      entries: entries.map((e) => ({
        serialNumber: e.serial,
        revocationDate: new Date(Math.floor(e.revokedAt / 1000) * 1000),
        reason: REASONS[e.reason ?? 'unspecified'] ?? x509.X509CrlReason.unspecified,
      })),
    },
    webcrypto,
  );
  const der = Buffer.from(crl.rawData);
  // RFC 7468 §5: the label is "X509 CRL" (the library writes "CRL", which OpenSSL refuses).
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { der, pem: `-----BEGIN X509 CRL-----\n${body}-----END X509 CRL-----\n`, thisUpdate, nextUpdate };
}
