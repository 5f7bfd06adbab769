/**
 * CoAP over DTLS (RFC 7252 §9): the same CoapServer as plain UDP, fed by the DTLS server's
 * sessions (protocols/dtls). The peer is the session; its identity was proven in the
 * handshake (PSK identity = device id, or a device certificate from Palisade's CA) and is
 * turned into a principal by `resolvePrincipal`, cached until `epoch()` moves (a device
 * changed, a certificate was revoked: DeviceMessaging.epoch), so a moved or disabled device is
 * judged by its current record. A session whose principal is refused gets 4.01 and is closed.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import { DtlsServer } from '../dtls/server.ts';
import type { DtlsIdentity, DtlsServerOptions, DtlsSession } from '../dtls/types.ts';
import type { BoundListener } from '../mqtt/listeners.ts';
import type { CoapServer, CoapServerPeer } from './server.ts';

export interface DtlsAdapterOptions {
  resolvePrincipal(identity: DtlsIdentity): Promise<DevicePrincipal>;
  epoch(): number;
  events: Pick<EventLog, 'record'>;
}

/** Runs `server` over one established DTLS session. */
export function serveCoapOverDtls(server: CoapServer, session: DtlsSession, opts: DtlsAdapterOptions): CoapServerPeer {
  const { address, port } = session.remote;
  let cached: { epoch: number; principal: DevicePrincipal | null } | null = null;
  const peer: CoapServerPeer = {
    key: `dtls:${address}:${port}`,
    address,
    port,
    send: (d) => session.send(d),
    identify: async () => {
      const epoch = opts.epoch();
      if (cached?.epoch === epoch) return cached.principal;
      let principal: DevicePrincipal | null;
      try {
        principal = await opts.resolvePrincipal(session.identity);
      } catch (err) {
        principal = null;
        opts.events.record('coap.session_refused', 'warning', { principal: session.identity.kind === 'psk' ? session.identity.id : session.identity.cert.deviceId, source: address, detail: { port, error: err instanceof Error ? err.message : String(err) } });
        // The 4.01 goes out first; then the session ends.
        setImmediate(() => session.close());
      }
      cached = { epoch, principal };
      return principal;
    },
  };
  session.onData((d) => server.receive(peer, d));
  session.onClose(() => server.peerGone(peer.key));
  return peer;
}

export interface CoapsListenerOptions extends DtlsAdapterOptions {
  name: string;
  host: string;
  port: number;
  dtls: Omit<DtlsServerOptions, 'socket' | 'events'>;
}

/** Binds UDP, runs the DTLS server on it and serves CoAP over each session. */
export async function startCoapsListener(server: CoapServer, opts: CoapsListenerOptions): Promise<BoundListener & { dtls: DtlsServer; socket: Socket }> {
  const socket = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  socket.on('error', (err) => opts.events.record('coap.socket_error', 'warning', { detail: { listener: opts.name, error: err.message } }));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const dtls = new DtlsServer({ ...opts.dtls, socket, events: opts.events });
  dtls.on('session', (s) => serveCoapOverDtls(server, s, opts));
  return {
    name: opts.name,
    host: opts.host,
    port: socket.address().port,
    dtls,
    socket,
    close: () => new Promise<void>((resolve) => {
      dtls.close();
      server.close();
      socket.close(() => resolve());
    }),
  };
}
