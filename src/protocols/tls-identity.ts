/** Turns a verified TLS peer certificate into the identity core understands. */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { PeerCertificateIdentity } from '../core/identity/authenticator.ts';
import { normalizeSerial } from '../core/fleet/register-device.ts';
import { deviceIdFromSan } from '../core/pki/index.ts';


/** Only a certificate the handshake verified against our CA counts; anything else is null. */
export function peerIdentity(socket: TLSSocket): PeerCertificateIdentity | null {
  if (!socket.authorized) return null;
  const cert: PeerCertificate = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null;
  const deviceId = deviceIdFromSan(cert.subjectaltname);
  if (!deviceId) return null;
  const cn = cert.subject?.CN;
  return { deviceId, serial: normalizeSerial(cert.serialNumber), commonName: typeof cn === 'string' ? cn : null };
}
