/**
 * Certificate bans at the TLS step (issue 5, point 1): once a handshake completes, the peer's
 * certificate serial and SHA-256 fingerprint are looked up in the ban list, and a banned one
 * is closed before any application data is read (MQTT over TLS, HTTPS, MQTT over WebSocket).
 */
import type { TLSSocket } from 'node:tls';
import type { PreAuthGate } from './pre-auth-gate.ts';

export function admitPeerCertificate(gate: PreAuthGate, socket: TLSSocket, listener: string): boolean {
  const cert = socket.getPeerCertificate();
  if (!cert || typeof cert.serialNumber !== 'string') return true;
  const source = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
  const fingerprint = typeof cert.fingerprint256 === 'string' ? cert.fingerprint256.replace(/:/g, '').toLowerCase() : null;
  if (gate.checkCertificate({ serial: cert.serialNumber, fingerprint256: fingerprint }, source, listener)) return true;
  socket.destroy();
  return false;
}
