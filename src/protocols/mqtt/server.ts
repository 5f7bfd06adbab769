/**
 * Accepts MQTT byte streams from any transport (TCP, TLS, WebSocket) and runs them through
 * admission into an MqttConnection.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { admitPeerCertificate } from '../../shield/bans/tls-check.ts';
import type { BanList } from '../../shield/bans/types.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import type { Admission } from '../../shield/admission.ts';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import { MqttConnection } from './connection.ts';
import { reauthorizeConnection, updateDeviceConnections } from './live-authorization.ts';
import type { ListenerSettings, MqttServices } from './context.ts';
import { RC } from './reason-codes.ts';
import { ConnectionRegistry } from './registry.ts';

export interface StreamInfo {
  remoteAddress: string;
  remotePort: number;
  listener: ListenerSettings;
  peerCertificate: PeerCertificateIdentity | null;
  /** Already admitted by the transport (TLS and WebSocket admit at TCP accept). */
  admitted: boolean;
}

export class MqttServer {
  readonly registry = new ConnectionRegistry();
  readonly #services: MqttServices;
  readonly #admission: Admission;
  readonly #events: EventLog;

  constructor(services: MqttServices, admission: Admission) {
    this.#services = services;
    this.#admission = admission;
    this.#events = services.events;
  }

  /** Sockets refused at accept: their TLS wrapper's hang-up is not a handshake failure worth an event. */
  readonly #refused = new WeakSet<Duplex>();

  /** Whether admission refused this (TCP) socket. */
  refusedAtAccept(socket: Duplex): boolean {
    return this.#refused.has(socket);
  }

  /** Admission at accept time; returns false (and the socket is destroyed) when refused. */
  admit(socket: Duplex, remoteAddress: string, remotePort: number, listener: string): boolean {
    // An address banned for failed logins is refused before any TLS or MQTT work.
    const throttled = this.#services.throttle.checkAddress(remoteAddress);
    if (!throttled.allowed) {
      this.#events.record('shield.banned_address', 'warning', { source: `${remoteAddress}:${remotePort}`, detail: { listener, retryAfterMs: throttled.retryAfterMs } });
      socket.destroy();
      return false;
    }
    const gate = this.#services.preAuth;
    if (gate) {
      // Bans, rates and caps; refusals are recorded (rate-limited) by the gate.
      if (!gate.admit(this.#admission, remoteAddress, `${remoteAddress}:${remotePort}`, listener)) {
        this.#refused.add(socket);
        socket.destroy();
        return false;
      }
      socket.once('close', () => this.#admission.release(remoteAddress));
      return true;
    }
    const verdict = this.#admission.admit(remoteAddress);
    if (!verdict.admitted) {
      this.#events.record('shield.connection_refused', 'warning', { source: `${remoteAddress}:${remotePort}`, detail: { listener, reason: verdict.reason } });
      socket.destroy();
      return false;
    }
    socket.once('close', () => this.#admission.release(remoteAddress));
    return true;
  }

  /** After a TLS handshake: false (and the socket is destroyed) when the client certificate is banned. */
  admitCertificate(socket: TLSSocket, listener: string): boolean {
    const gate = this.#services.preAuth;
    return gate === undefined || admitPeerCertificate(gate, socket, listener);
  }

  handle(stream: Duplex, info: StreamInfo): void {
    if (!info.admitted && !this.admit(stream, info.remoteAddress, info.remotePort, info.listener.name)) return;
    const conn = new MqttConnection(stream, {
      services: this.#services,
      listener: info.listener,
      remoteAddress: info.remoteAddress,
      remotePort: info.remotePort,
      peerCertificate: info.peerCertificate,
      hooks: { onClose: (c) => this.registry.remove(c) },
    });
    this.registry.add(conn);
  }

  /** Closes every live connection authenticated with one of these certificates. */
  closeByCertificate(serials: ReadonlySet<string>): string[] {
    const closed: string[] = [];
    for (const c of this.registry.connections()) {
      const serial = c.principal?.certSerial;
      if (serial == null || !serials.has(serial)) continue;
      c.record('cert.revoked_session_closed', 'critical', { certSerial: serial });
      c.fail(RC.ADMINISTRATIVE_ACTION, 'certificate revoked', 'critical');
      closed.push(c.clientId);
    }
    return closed;
  }

  /** After a ban is added: live connections it matches are closed (v5: DISCONNECT 0x98 Administrative action). */
  closeBanned(bans: Pick<BanList, 'match'>): number {
    let closed = 0;
    for (const c of this.registry.connections()) {
      const ban = bans.match({ address: c.remoteAddress, clientId: c.clientId, username: c.principal?.id ?? null, certSerial: c.principal?.certSerial ?? null });
      if (!ban) continue;
      c.record('shield.banned_session_closed', 'warning', { banId: ban.id, kind: ban.kind });
      c.fail(RC.ADMINISTRATIVE_ACTION, 'banned', 'warning');
      closed++;
    }
    return closed;
  }

  /** After a policy change: every live connection re-decides what it holds. */
  reauthorizeAll(cause: string): void {
    for (const c of this.registry.connections()) reauthorizeConnection(c, cause);
  }

  /** A device changed: its live connections take its new state, or close when `next` is null. */
  updateDevice(deviceId: string, next: ((p: DevicePrincipal) => DevicePrincipal) | null, cause: string): number {
    return updateDeviceConnections(this.registry.connections(), deviceId, next, cause);
  }

  get connectionCount(): number {
    return this.registry.size;
  }

  shutdown(): void {
    this.registry.closeAll(RC.SERVER_SHUTTING_DOWN);
    this.registry.stop();
  }
}
