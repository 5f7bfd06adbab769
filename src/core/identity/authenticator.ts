/**
 * identity.authenticate (DESIGN.md §1): credentials in, a Principal out, or a typed refusal.
 * The device's identity comes from what it proves (its certificate, its password), never from
 * the client id it sends; the client id must then fit that identity.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { Store } from '../ports.ts';
import { withDeviceState, type DevicePrincipal } from './principal.ts';
import { verifyPassword } from './password.ts';

export interface PeerCertificateIdentity {
  deviceId: string;
  /** Lower-case hex serial. */
  serial: string;
  commonName: string | null;
}

export interface Credentials {
  clientId: string;
  username: string | null;
  password: Buffer | null;
  /** Present when the transport verified a client certificate against Palisade's CA. */
  certificate: PeerCertificateIdentity | null;
  /** Segment for credential-less clients, when the listener allows them. */
  anonymousSegment: string | null;
  clientIdMatch: 'exact' | 'prefix' | 'any';
}

export class Authenticator {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async authenticate(c: Credentials): Promise<DevicePrincipal> {
    if (c.certificate) return this.#byCertificate(c, c.certificate);
    if (c.username !== null || c.password !== null) return this.#byPassword(c);
    if (c.anonymousSegment !== null) {
      return { kind: 'device', id: c.clientId, segment: c.anonymousSegment, authMethod: 'anonymous', attrs: {}, certSerial: null, certCommonName: null };
    }
    throw new PalisadeError(ErrorCodes.AUTH_NO_CREDENTIALS, 'no credentials');
  }

  async #byCertificate(c: Credentials, cert: PeerCertificateIdentity): Promise<DevicePrincipal> {
    const record = await this.#store.certificates.get(cert.serial);
    if (record?.revokedAt != null) throw new PalisadeError(ErrorCodes.CERT_REVOKED, 'certificate revoked', { detail: { serial: cert.serial } });
    const device = await this.#store.devices.get(cert.deviceId);
    if (!device) throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'certificate names an unknown device', { detail: { deviceId: cert.deviceId } });
    if (device.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_DEVICE_DISABLED, 'device disabled', { detail: { deviceId: device.id } });
    checkClientId(c, device.id);
    const principal: DevicePrincipal = { kind: 'device', id: device.id, segment: device.segment, authMethod: 'certificate', attrs: device.attrs, certSerial: cert.serial, certCommonName: cert.commonName, certNotAfter: record?.notAfter ?? null };
    return withDeviceState(principal, device);
  }

  async #byPassword(c: Credentials): Promise<DevicePrincipal> {
    const id = c.username ?? '';
    const device = id ? await this.#store.devices.get(id) : null;
    // Always spend the hashing work, so timing does not tell which device ids exist.
    const ok = await verifyPassword(c.password ?? Buffer.alloc(0), device?.passwordHash ?? DUMMY_HASH);
    if (!device || !device.passwordHash || !ok) throw new PalisadeError(ErrorCodes.AUTH_FAILED, 'bad username or password', { detail: { username: id } });
    if (device.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_DEVICE_DISABLED, 'device disabled', { detail: { deviceId: device.id } });
    checkClientId(c, device.id);
    return withDeviceState({ kind: 'device', id: device.id, segment: device.segment, authMethod: 'password', attrs: device.attrs, certSerial: null, certCommonName: null }, device);
  }
}

function checkClientId(c: Credentials, deviceId: string): void {
  const ok = c.clientIdMatch === 'any' || c.clientId === deviceId || (c.clientIdMatch === 'prefix' && c.clientId.startsWith(`${deviceId}:`));
  if (!ok) throw new PalisadeError(ErrorCodes.AUTH_CLIENT_ID_MISMATCH, 'client id does not match the authenticated device', { detail: { clientId: c.clientId, deviceId } });
}

// A valid scrypt hash of a random secret nobody knows, verified when the device is unknown.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
