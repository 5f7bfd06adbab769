/**
 * Issuance of end-entity certificates by the issuing CA: TLS server certificates for the
 * gateway's listeners, and device (TLS client) certificates either with a key we generate or for
 * a device-held key submitted as a PKCS#10 CSR (RFC 2986).
 */
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { BACKDATE_MS, DAY_MS, assertDays, authorityKeyId, nowSeconds } from './ca.ts';
import { assertDeviceId, deviceUri } from './identity.ts';
import { infoOf, parseCertificate } from './info.ts';
import { type CryptoKey, assertAcceptablePublicKey, exportPrivateKeyPem, generateP256, importSigningKey, randomSerialHex, webcrypto, withTrailingNewline } from './keys.ts';
import { assertNameValue, buildName, parseHost } from './names.ts';
import type { CertificateAuthority, IssuedCertificate, IssuedCsrCertificate } from './types.ts';

/** O of every device certificate. */
export const DEVICE_ORGANIZATION = 'Palisade';

/** Upper bound on a submitted CSR, checked before parsing; a P-256 or even RSA-4096 CSR is under 4 KiB of PEM. */
const MAX_CSR_PEM_LENGTH = 16 * 1024;

export interface LeafSpec {
  subject: x509.Name;
  publicKey: CryptoKey | x509.PublicKey;
  sans: x509.JsonGeneralNames;
  /** RFC 5280 §4.2.1.6: SAN MUST be critical when the subject is empty. */
  sanCritical: boolean;
  extendedKeyUsage: string;
  days: number;
}

/** Signs an end-entity certificate with the issuing CA (exported for enrollment's bootstrap profile, enroll-bootstrap.ts). */
export async function signLeaf(ca: CertificateAuthority, spec: LeafSpec): Promise<x509.X509Certificate> {
  const issuer = parseCertificate(ca.issuing.certPem);
  const basic = issuer.getExtension(x509.BasicConstraintsExtension);
  if (basic === null || !basic.ca) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'issuing certificate is not a CA certificate', { detail: { subject: issuer.subject } });
  }
  const now = nowSeconds();
  if (now >= issuer.notAfter.getTime()) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'issuing CA has expired', { detail: { notAfter: issuer.notAfter.getTime() } });
  }
  const signer = await importSigningKey(ca.issuing.keyPem, issuer);
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      issuer: issuer.subjectName,
      subject: spec.subject,
      notBefore: new Date(now - BACKDATE_MS),
      // Never beyond the issuing CA: path validation (RFC 5280 §6.1.3) would reject the leaf then anyway.
      notAfter: new Date(Math.min(now + spec.days * DAY_MS, issuer.notAfter.getTime())),
      publicKey: spec.publicKey,
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      extensions: [
        // RFC 5280 §4.2.1.9: an explicit cA=FALSE so no client mistakes the leaf for a CA.
        new x509.BasicConstraintsExtension(false, undefined, true),
        // digitalSignature only: (EC)DHE handshakes sign with the leaf key and never encrypt to it (§4.2.1.3).
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // §4.2.1.12: restricts the key to its one TLS role, so a device cert cannot serve as a server cert.
        new x509.ExtendedKeyUsageExtension([spec.extendedKeyUsage], false),
        new x509.SubjectAlternativeNameExtension(spec.sans, spec.sanCritical),
        // §4.2.1.1 (AKI MUST be present) and §4.2.1.2 (SKI SHOULD be present in end-entity certificates).
        await authorityKeyId(issuer),
        await x509.SubjectKeyIdentifierExtension.create(spec.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
}

function issued(cert: x509.X509Certificate): Omit<IssuedCertificate, 'keyPem'> {
  return { certPem: withTrailingNewline(cert.toString('pem')), ...infoOf(cert) };
}

export async function issueServerCertificate(ca: CertificateAuthority, opts: { hosts: string[]; days?: number }): Promise<IssuedCertificate> {
  const days = opts.days ?? 397; // inside the 398-day maximum that browsers and Apple platforms enforce for TLS server certificates
  assertDays('days', days);
  if (!Array.isArray(opts.hosts) || opts.hosts.length === 0) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'a server certificate needs at least one host');
  }
  const hosts = opts.hosts.map((h) => ({ given: h, parsed: parseHost(h) }));
  const seen = new Set<string>();
  const sans: x509.JsonGeneralNames = [];
  for (const { parsed } of hosts) {
    const key = `${parsed.type}:${parsed.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    sans.push({ type: parsed.type, value: parsed.value });
  }
  // Clients match the SAN (RFC 6125 §6.4.4); the CN is informational, so a host too long for the
  // CN's 64-character bound (RFC 5280 Appendix A) leaves the subject empty and the SAN critical.
  const first = hosts[0]?.given.replace(/^\[(.*)\]$/, '$1') ?? '';
  const cnFits = first.length <= 64;
  const keys = await generateP256();
  const cert = await signLeaf(ca, {
    subject: buildName(cnFits ? [['CN', first]] : []),
    publicKey: keys.publicKey,
    sans,
    sanCritical: !cnFits,
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    days,
  });
  return { ...issued(cert), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

interface DeviceOpts {
  deviceId: string;
  segment: string;
  days?: number;
}

/** Checks device options up front, so bad input is refused before any key is generated or CSR parsed. */
function checkDeviceOpts(opts: DeviceOpts): number {
  assertDeviceId(opts.deviceId);
  assertNameValue('segment', opts.segment);
  const days = opts.days ?? 30;
  assertDays('days', days);
  return days;
}

function deviceSpec(opts: DeviceOpts, days: number, publicKey: CryptoKey | x509.PublicKey): LeafSpec {
  return {
    // DER order O, OU, CN; the string form reads "CN=<id>, OU=<segment>, O=Palisade".
    subject: buildName([
      ['O', DEVICE_ORGANIZATION],
      ['OU', opts.segment],
      ['CN', opts.deviceId],
    ]),
    publicKey,
    // The identity the gateway authenticates (see identity.ts); the CN above only mirrors it.
    sans: [{ type: 'url', value: deviceUri(opts.deviceId) }],
    sanCritical: false,
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
    days,
  };
}

export async function issueDeviceCertificate(ca: CertificateAuthority, opts: DeviceOpts): Promise<IssuedCertificate> {
  const days = checkDeviceOpts(opts);
  const keys = await generateP256();
  const cert = await signLeaf(ca, deviceSpec(opts, days, keys.publicKey));
  return { ...issued(cert), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

function parseCsr(csrPem: string): x509.Pkcs10CertificateRequest {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_PEM_LENGTH) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR missing or too large');
  }
  let blocks: x509.PemStruct[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(csrPem);
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR is not valid PEM', { cause });
  }
  const block = blocks.length === 1 ? blocks[0] : undefined;
  if (block === undefined || (block.type !== 'CERTIFICATE REQUEST' && block.type !== 'NEW CERTIFICATE REQUEST')) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'expected exactly one PEM CERTIFICATE REQUEST block');
  }
  try {
    return new x509.Pkcs10CertificateRequest(block.rawData);
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR is not a valid PKCS#10 request', { cause });
  }
}

/**
 * Certifies a device-generated key. Only the public key is taken from the CSR, after checking
 * proof of possession (the CSR's self-signature, RFC 2986 §3) and key strength; subject, SAN,
 * extensions and validity are ours, so a device cannot request another device's identity or CA
 * powers.
 */
export async function signDeviceCsr(ca: CertificateAuthority, csrPem: string, opts: DeviceOpts): Promise<IssuedCsrCertificate> {
  const days = checkDeviceOpts(opts);
  const csr = parseCsr(csrPem);
  const keyKind = assertAcceptablePublicKey(csr.publicKey.rawData);
  let verified: boolean;
  try {
    verified = await csr.verify(webcrypto);
  } catch (cause) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR signature cannot be verified', { cause, detail: { keyKind } });
  }
  if (!verified) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'CSR signature does not verify (no proof of possession)', { detail: { keyKind } });
  }
  const cert = await signLeaf(ca, deviceSpec(opts, days, csr.publicKey));
  return { ...issued(cert), keyPem: null };
}
