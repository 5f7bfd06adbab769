/**
 * Device PSKs for DTLS: generated, sealed per device, shown once, and looked up by PSK identity
 * = device id for the DTLS server. A disabled or unknown device has no usable PSK.
 *
 * The key is the 32 ASCII characters of 16 random bytes in hex (128 bits of entropy, the
 * AES-128 strength of the suites that use it). libcoap's `coap-client -k` (4.3.x as shipped by
 * Debian) takes the key as literal text, so a text key is the one form every client can enter:
 * `coap-client -k <text>` and `openssl s_client -psk <hex of the text>` use the same bytes.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { assertDeviceId, isValidDeviceId } from '../pki/identity.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { DeviceRepo } from '../ports.ts';
import type { DevicePskRepo } from './repo.ts';

/** Random bytes behind a key; the key itself is twice as long (hex text). */
export const PSK_ENTROPY_BYTES = 16;

export function pskContext(deviceId: string): string {
  return `device-psk:${deviceId}`;
}

/** Generates, seals and stores a new PSK for a registered device; returns it (the only time it is readable). */
export async function rotateDevicePsk(deps: { devices: DeviceRepo; psks: DevicePskRepo; secrets: SecretBox }, deviceId: string, now = Date.now()): Promise<Buffer> {
  assertDeviceId(deviceId);
  const device = await deps.devices.get(deviceId);
  if (device === null) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no device ${deviceId}`);
  const psk = Buffer.from(randomBytes(PSK_ENTROPY_BYTES).toString('hex'), 'ascii');
  await deps.psks.put({ deviceId, sealed: deps.secrets.seal(psk, pskContext(deviceId)), createdAt: now });
  return psk;
}

/**
 * The DTLS server's psk() hook: the device's PSK, or null when the identity is not a device id,
 * the device does not exist or is not active, or it has no PSK.
 */
export function devicePskLookup(deps: { devices: DeviceRepo; psks: DevicePskRepo; secrets: SecretBox }): (identity: string) => Promise<Buffer | null> {
  return async (identity) => {
    if (!isValidDeviceId(identity)) return null;
    const device = await deps.devices.get(identity);
    if (device === null || device.status !== 'active') return null;
    const record = await deps.psks.get(identity);
    if (record === null) return null;
    return deps.secrets.open(record.sealed, pskContext(identity));
  };
}
