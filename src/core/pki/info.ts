/**
 * Reading certificates back: the metadata a store records for each certificate we issue.
 */
import { createHash } from 'node:crypto';
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { formatName } from './names.ts';
import type { CertificateInfo } from './types.ts';

/** Parses the first CERTIFICATE block of a PEM string (a bundle is accepted; the rest is ignored). */
export function parseCertificate(pem: string): x509.X509Certificate {
  try {
    const blocks = x509.PemConverter.decodeWithHeaders(pem).filter((b) => b.type === 'CERTIFICATE');
    const first = blocks[0];
    if (first === undefined) throw new Error('no CERTIFICATE block');
    return new x509.X509Certificate(first.rawData);
  } catch (cause) {
    if (cause instanceof PalisadeError) throw cause;
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, 'not a PEM X.509 certificate', { cause });
  }
}

export function infoOf(cert: x509.X509Certificate): CertificateInfo {
  return {
    // getCertificateSerialNumber already drops the DER sign-padding octet; lower-case for stable keys.
    serial: cert.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(new Uint8Array(cert.rawData)).digest('hex'),
    subject: formatName(cert.subjectName),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

export function certificateInfo(pem: string): CertificateInfo {
  return infoOf(parseCertificate(pem));
}
