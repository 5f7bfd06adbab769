/**
 * Registering a device: the record, its segment and a certificate from Palisade's CA. Shared
 * by the CLI and the admin API. A password, for devices that cannot hold a certificate, is set
 * afterwards through identity/credential-set.ts, which checks it and keeps its fingerprint.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { assertDeviceId, issueDeviceCertificate, type CertificateAuthority, type IssuedCertificate } from '../pki/index.ts';
import type { Store } from '../ports.ts';

export const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface RegisteredDevice {
  certificate: IssuedCertificate;
}

export async function registerDevice(store: Store, ca: CertificateAuthority, req: { id: string; segment: string; days?: number }): Promise<RegisteredDevice> {
  assertDeviceId(req.id);
  if (!SEGMENT_PATTERN.test(req.segment)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `segment "${req.segment}" must match ${SEGMENT_PATTERN.source}`);
  if (await store.devices.get(req.id)) throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `device ${req.id} already exists`);
  const now = Date.now();
  if (!(await store.segments.get(req.segment))) await store.segments.upsert({ name: req.segment, description: '', createdAt: now });
  const certificate = await issueDeviceCertificate(ca, { deviceId: req.id, segment: req.segment, days: req.days ?? 30 });
  await store.devices.create({ id: req.id, segment: req.segment, status: 'active', attrs: {}, passwordHash: null, createdAt: now });
  await store.certificates.add({ serial: normalizeSerial(certificate.serial), kind: 'device', deviceId: req.id, subject: certificate.subject, notBefore: certificate.notBefore, notAfter: certificate.notAfter, fingerprint: certificate.fingerprint, pem: certificate.certPem, revokedAt: null, revocationReason: null });
  return { certificate };
}

/** Serials compare as lower-case hex without separators or leading zeros, whatever wrote them. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+(?=.)/, '');
}
