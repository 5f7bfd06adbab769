/**
 * CoAP over plain UDP (RFC 7252 §6.1, port 5683, bound to loopback by default like plain
 * MQTT). UDP has no identity: a peer is the anonymous segment's device when the operator
 * configures `listeners.coap.anonymous.segment`, else every request is 4.01.
 *
 * Floods: each source address may send `maxDatagramsPerSecond`; the excess is dropped (one
 * rate-limited security event), so one address cannot starve the others. Datagrams are
 * processed in arrival order; nothing here buffers per peer. The socket is batched native I/O
 * where built, else node:dgram (udp-socket.ts).
 */
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { BoundListener } from '../mqtt/listeners.ts';
import { RateLimitedEvents } from './rate-limited-events.ts';
import type { CoapServer, CoapServerPeer } from './server.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import { openUdpSocket, type UdpIo } from './udp-socket.ts';

export interface CoapUdpOptions {
  name: string;
  host: string;
  port: number;
  anonymousSegment: string | null;
  maxDatagramsPerSecond: number;
  events: Pick<EventLog, 'record'>;
  /** 'auto': batched native I/O when built, else node:dgram. */
  io?: UdpIo;
  /** Addresses on the shield's ban list (shield/bans): their datagrams are dropped unread. */
  banned?: (address: string) => boolean;
}

/** Largest UDP payload we read; CoAP messages should fit the path MTU (§4.6), this is the hard cap. */
const MAX_DATAGRAM = 65_507;
const MAX_PEERS = 100_000;

export async function startCoapUdpListener(server: CoapServer, opts: CoapUdpOptions): Promise<BoundListener & { io: 'batched' | 'node' }> {
  // By address, then port: the transport hands the same address string each time, so no key is
  // built per datagram.
  const peers = new Map<string, Map<number, CoapServerPeer>>();
  let peerCount = 0;
  const buckets = new Map<string, { windowStart: number; count: number }>();
  const limited = new RateLimitedEvents(opts.events);

  const peerFor = (address: string, port: number): CoapServerPeer => {
    let byPort = peers.get(address);
    let peer = byPort?.get(port);
    if (peer) return peer;
    if (peerCount >= MAX_PEERS) {
      peers.clear();
      peerCount = 0;
      byPort = undefined;
    }
    if (!byPort) {
      byPort = new Map();
      peers.set(address, byPort);
    }
    const principal: DevicePrincipal | null = opts.anonymousSegment === null
      ? null
      : { kind: 'device', id: `coap-${address}-${port}`, segment: opts.anonymousSegment, authMethod: 'anonymous', attrs: {}, certSerial: null, certCommonName: null };
    peer = {
      key: `udp:${address}:${port}`,
      address,
      port,
      send: (d) => socket.send(d, port, address),
      identify: () => principal,
    };
    byPort.set(port, peer);
    peerCount++;
    return peer;
  };

  const admit = (address: string, now: number): boolean => {
    let b = buckets.get(address);
    if (!b || now - b.windowStart >= 1000) {
      if (buckets.size >= MAX_PEERS) buckets.clear();
      b = { windowStart: now, count: 0 };
      buckets.set(address, b);
    }
    return ++b.count <= opts.maxDatagramsPerSecond;
  };

  const socket = await openUdpSocket({
    host: opts.host,
    port: opts.port,
    io: opts.io ?? 'auto',
    bufferBytes: 4 * 1024 * 1024,
    onDatagram: (msg, address, port) => {
      if (msg.length > MAX_DATAGRAM || opts.banned?.(address) === true) return;
      if (!admit(address, Date.now())) {
        limited.record('coap.rate_limited', 'warning', address, null, { limit: opts.maxDatagramsPerSecond });
        return;
      }
      server.receive(peerFor(address, port), msg);
    },
    onError: (err) => opts.events.record('coap.socket_error', 'warning', { detail: { listener: opts.name, error: err.message } }),
  });
  return {
    name: opts.name,
    host: opts.host,
    port: socket.port,
    io: socket.io,
    close: async () => {
      server.close();
      await socket.close();
    },
  };
}
