/**
 * Palisade's device identity for the DTLS server: the psk() hook (device PSK, sealed per device),
 * the verifyPeer() hook (the certificate must be one Palisade issued to that device, not
 * revoked, and the device active), and the principal a session's identity maps to, for the
 * CoAP-over-DTLS adapter. A session's identity was proven in the handshake; the principal is
 * re-read from the device record so a moved or disabled device is judged by its current state.
 */
import type { PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import { Authenticator } from '../../core/identity/authenticator.ts';
import { withDeviceState, type DevicePrincipal } from '../../core/identity/principal.ts';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { Store } from '../../core/ports.ts';
import { devicePskLookup } from '../../core/psk/device-psk.ts';
import type { SecretBox } from '../../core/secrets/index.ts';
import type { DtlsIdentity, DtlsServerOptions } from './types.ts';

export function deviceDtlsHooks(deps: { store: Store; secrets: SecretBox }): Pick<DtlsServerOptions, 'psk' | 'verifyPeer'> {
  const { store } = deps;
  return {
    psk: devicePskLookup({ devices: store.devices, psks: store.devicePsks, secrets: deps.secrets }),
    verifyPeer: async (_chain, cert: PeerCertificateIdentity) => {
      const record = await store.certificates.get(cert.serial);
      // Only a certificate Palisade issued for this device, and not revoked (the CRL of record).
      if (record === null || record.revokedAt !== null || record.deviceId !== cert.deviceId || record.kind !== 'device') return null;
      const device = await store.devices.get(cert.deviceId);
      if (device === null || device.status !== 'active') return null;
      return cert;
    },
  };
}

/** The principal of an established DTLS session (throws PalisadeError when the device is gone or disabled). */
export async function dtlsPrincipal(store: Store, identity: DtlsIdentity): Promise<DevicePrincipal> {
  if (identity.kind === 'certificate') {
    return new Authenticator(store).authenticate({ clientId: identity.cert.deviceId, username: null, password: null, certificate: identity.cert, anonymousSegment: null, clientIdMatch: 'any' });
  }
  const device = await store.devices.get(identity.id);
  if (device === null) throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'PSK identity names an unknown device', { detail: { deviceId: identity.id } });
  if (device.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_DEVICE_DISABLED, 'device disabled', { detail: { deviceId: device.id } });
  return withDeviceState({ kind: 'device', id: device.id, segment: device.segment, authMethod: 'psk', attrs: device.attrs, certSerial: null, certCommonName: null }, device);
}
