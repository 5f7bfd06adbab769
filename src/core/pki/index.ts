/**
 * Palisade's certificate authority (pure domain: no sockets, no store). See ca.ts for the
 * hierarchy, issue.ts for the end-entity profile and identity.ts for how device identity is
 * encoded in and read back from certificates.
 */
export type { CertificateAuthority, CertificateInfo, IssuedCertificate, IssuedCsrCertificate, KeyPairPem } from './types.ts';
export { chainPem, createCertificateAuthority } from './ca.ts';
export { issueDeviceCertificate, issueServerCertificate, signDeviceCsr } from './issue.ts';
export { DEVICE_ID_PATTERN, DEVICE_URN_PREFIX, assertDeviceId, deviceIdFromSan, deviceUri, isValidDeviceId } from './identity.ts';
export { certificateInfo } from './info.ts';
