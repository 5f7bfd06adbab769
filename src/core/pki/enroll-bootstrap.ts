/**
 * Bootstrap certificates: a certificate whose only power is to enroll one device (issue 3,
 * point 1). It is signed by the issuing CA like a device certificate, so TLS verifies it, but
 * its identity is the SAN URI `urn:palisade:bootstrap:<id>`, which deviceIdFromSan (the MQTT and
 * TLS identity path) never reads as a device: presented to the broker it authenticates nobody.
 * Only EST simpleenroll accepts it, and only for the device id it names (RFC 7030 §3.3.2 lets
 * the server decide which client certificates authorise enrollment).
 */
import * as x509 from './x509.ts';
import { assertDays } from './ca.ts';
import { assertDeviceId } from './identity.ts';
import { infoOf } from './info.ts';
import { exportPrivateKeyPem, generateP256, withTrailingNewline } from './keys.ts';
import { buildName } from './names.ts';
import { DEVICE_ORGANIZATION, signLeaf } from './issue.ts';
import type { CertificateAuthority, IssuedCertificate } from './types.ts';

export const BOOTSTRAP_URN_PREFIX = 'urn:palisade:bootstrap:';

/** Short by default: a bootstrap credential is for the first contact, not for a device's life. */
export const DEFAULT_BOOTSTRAP_DAYS = 7;

export function bootstrapUri(deviceId: string): string {
  assertDeviceId(deviceId);
  return `${BOOTSTRAP_URN_PREFIX}${deviceId}`;
}

/**
 * Issues a bootstrap certificate with a key generated here (the operator installs it on the
 * device at manufacture or first boot). CN and OU say "bootstrap" so nobody reading
 * `openssl x509 -text` mistakes it for the device's own certificate.
 */
export async function issueBootstrapCertificate(ca: CertificateAuthority, opts: { deviceId: string; days?: number }): Promise<IssuedCertificate> {
  assertDeviceId(opts.deviceId);
  const days = opts.days ?? DEFAULT_BOOTSTRAP_DAYS;
  assertDays('days', days);
  const keys = await generateP256();
  const cert = await signLeaf(ca, {
    subject: buildName([
      ['O', DEVICE_ORGANIZATION],
      ['OU', 'bootstrap'],
      // The device id pattern allows 128 characters, the CN only 64 (RFC 5280 Appendix A).
      ['CN', `bootstrap:${opts.deviceId}`.slice(0, 64)],
    ]),
    publicKey: keys.publicKey,
    sans: [{ type: 'url', value: bootstrapUri(opts.deviceId) }],
    sanCritical: false,
    // clientAuth: it must pass the TLS handshake of the HTTPS listener to reach EST at all.
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
    days,
  });
  return { certPem: withTrailingNewline(cert.toString('pem')), ...infoOf(cert), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
