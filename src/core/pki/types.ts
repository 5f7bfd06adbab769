/**
 * Value types of the certificate authority. Everything crosses module boundaries as PEM text so
 * a store can persist it verbatim and a TLS listener can load it without conversion.
 */

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), unencrypted; the store is responsible for protecting it at rest. */
  keyPem: string;
}

export interface CertificateAuthority {
  /** Self-signed trust anchor. Its key is only needed to (re)issue the issuing CA and can be kept offline. */
  root: KeyPairPem;
  /** Intermediate that signs every leaf, so rotating it never requires redistributing the root. */
  issuing: KeyPairPem;
}

export interface CertificateInfo {
  /** Lower-case hex, no separators, without the DER sign-padding octet. */
  serial: string;
  /** SHA-256 of the DER encoding, lower-case hex. */
  fingerprint: string;
  /** RFC 4514 string form, e.g. "CN=thermostat-17, OU=lab, O=Palisade". */
  subject: string;
  /** Epoch milliseconds (X.509 validity has one-second resolution). */
  notBefore: number;
  notAfter: number;
}

export interface IssuedCertificate extends KeyPairPem, CertificateInfo {}

/** A certificate issued for a CSR: the requester kept its private key, so we have none to return. */
export type IssuedCsrCertificate = Omit<IssuedCertificate, 'keyPem'> & { keyPem: null };
