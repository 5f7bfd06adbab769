/** Turns a verified TLS peer certificate into the identity core understands. */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { PeerCertificateIdentity } from '../core/identity/authenticator.ts';
import { deviceIdFromSan } from '../core/pki/index.ts';

/** Serials compare as lower-case hex without leading zeros, whatever wrote them. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+(?=.)/, '');
}

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
