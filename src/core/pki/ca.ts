/**
 * Creation of the two-level certificate authority: a self-signed root and one issuing
 * (intermediate) CA. Leaves are only ever signed by the issuing CA, so the root key can be kept
 * offline and the issuing CA rotated without touching devices' trust stores.
 */
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { exportPrivateKeyPem, generateP256, randomSerialHex, webcrypto, withTrailingNewline } from './keys.ts';
import { assertNameValue, buildName } from './names.ts';
import { parseCertificate } from './info.ts';
import type { CertificateAuthority } from './types.ts';

export const DAY_MS = 86_400_000;

/**
 * Certificates start slightly in the past: devices with a drifting RTC would otherwise reject a
 * certificate issued moments ago as "not yet valid".
 */
export const BACKDATE_MS = 5 * 60_000;

/** Whole seconds, because X.509 Time has one-second resolution (RFC 5280 §4.1.2.5). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}

export function assertDays(what: string, days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${what} must be an integer number of days between 1 and 36500`, { detail: { [what]: days } });
  }
}

/** SKI of an issuer, for the AKI of what it signs (RFC 5280 §4.2.1.1: keyIdentifier MUST be present). */
export async function authorityKeyId(issuer: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, webcrypto);
}

const CA_KEY_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

export async function createCertificateAuthority(opts: { name: string; rootDays?: number; issuingDays?: number }): Promise<CertificateAuthority> {
  const name = opts.name;
  // " Issuing CA" is appended for the CN, which RFC 5280 Appendix A bounds at 64 characters.
  assertNameValue('name', name, 64 - ' Issuing CA'.length);
  const rootDays = opts.rootDays ?? 3650;
  const issuingDays = opts.issuingDays ?? 1825;
  assertDays('rootDays', rootDays);
  assertDays('issuingDays', issuingDays);

  const now = nowSeconds();
  const notBefore = new Date(now - BACKDATE_MS);

  const rootKeys = await generateP256();
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: buildName([
        ['O', name],
        ['CN', `${name} Root CA`],
      ]),
      notBefore,
      notAfter: new Date(now + rootDays * DAY_MS),
      keys: rootKeys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        // RFC 5280 §4.2.1.9: critical in CA certificates. pathLen 1 allows exactly the issuing CA below.
        new x509.BasicConstraintsExtension(true, 1, true),
        // RFC 5280 §4.2.1.3: keyCertSign for certificates, cRLSign for the revocation lists we publish.
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        // RFC 5280 §4.2.1.2: MUST appear in CA certificates; AKI is optional on a self-signed root (§4.2.1.1).
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );

  const issuingKeys = await generateP256();
  const issuingCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      // Issuer is copied from the root's encoded subject so name chaining (RFC 5280 §6.1) matches byte for byte.
      issuer: rootCert.subjectName,
      subject: buildName([
        ['O', name],
        ['CN', `${name} Issuing CA`],
      ]),
      notBefore,
      // An intermediate outliving its root would advertise validity it can never have.
      notAfter: new Date(Math.min(now + issuingDays * DAY_MS, rootCert.notAfter.getTime())),
      publicKey: issuingKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        // pathLen 0: the issuing CA signs leaves only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey, false, webcrypto),
        await authorityKeyId(rootCert),
      ],
    },
    webcrypto,
  );

  return {
    root: { certPem: withTrailingNewline(rootCert.toString('pem')), keyPem: await exportPrivateKeyPem(rootKeys.privateKey) },
    issuing: { certPem: withTrailingNewline(issuingCert.toString('pem')), keyPem: await exportPrivateKeyPem(issuingKeys.privateKey) },
  };
}

/**
 * The CA bundle for a client's --cafile / TLS `ca`: issuing CA then root, each PEM block ending
 * in a newline so OpenSSL (and therefore mosquitto) reads both certificates.
 */
export function chainPem(ca: CertificateAuthority): string {
  // Parse both so a corrupted CA fails here rather than as an opaque TLS error on a device.
  parseCertificate(ca.issuing.certPem);
  parseCertificate(ca.root.certPem);
  return withTrailingNewline(ca.issuing.certPem) + withTrailingNewline(ca.root.certPem);
}
