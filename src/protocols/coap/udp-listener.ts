/**
 * CoAP over plain UDP (RFC 7252 §6.1, port 5683, bound to loopback by default like plain
 * MQTT). UDP has no identity: a peer is the anonymous segment's device when the operator
 * configures `listeners.coap.anonymous.segment`, else every request is 4.01.
 *
 * Floods: each source address may send `maxDatagramsPerSecond`; the excess is dropped (one
 * rate-limited security event), so one address cannot starve the others. Datagrams are
 * processed one at a time from the socket; nothing here buffers per peer.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { BoundListener } from '../mqtt/listeners.ts';
import { RateLimitedEvents } from './rate-limited-events.ts';
import type { CoapServer, CoapServerPeer } from './server.ts';
import type { EventLog } from '../../core/events/event-log.ts';

export interface CoapUdpOptions {
  name: string;
  host: string;
  port: number;
  anonymousSegment: string | null;
  maxDatagramsPerSecond: number;
  events: Pick<EventLog, 'record'>;
}

/** Largest UDP payload we read; CoAP messages should fit the path MTU (§4.6), this is the hard cap. */
const MAX_DATAGRAM = 65_507;
const MAX_PEERS = 100_000;

export async function startCoapUdpListener(server: CoapServer, opts: CoapUdpOptions): Promise<BoundListener & { socket: Socket }> {
  const socket = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const peers = new Map<string, CoapServerPeer>();
  const buckets = new Map<string, { windowStart: number; count: number }>();
  const limited = new RateLimitedEvents(opts.events);

  const peerFor = (rinfo: RemoteInfo): CoapServerPeer => {
    const key = `udp:${rinfo.address}:${rinfo.port}`;
    let peer = peers.get(key);
    if (peer) return peer;
    if (peers.size >= MAX_PEERS) peers.clear();
    const principal: DevicePrincipal | null = opts.anonymousSegment === null
      ? null
      : { kind: 'device', id: `coap-${rinfo.address}-${rinfo.port}`, segment: opts.anonymousSegment, authMethod: 'anonymous', attrs: {}, certSerial: null, certCommonName: null };
    const { address, port } = rinfo;
    peer = {
      key,
      address,
      port,
      send: (d) => socket.send(d, port, address),
      identify: () => principal,
    };
    peers.set(key, peer);
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

  socket.on('message', (msg, rinfo) => {
    if (msg.length > MAX_DATAGRAM) return;
    if (!admit(rinfo.address, Date.now())) {
      limited.record('coap.rate_limited', 'warning', rinfo.address, null, { limit: opts.maxDatagramsPerSecond });
      return;
    }
    server.receive(peerFor(rinfo), msg);
  });
  // A send to an unreachable peer surfaces here (ICMP); it must not end the listener.
  socket.on('error', (err) => opts.events.record('coap.socket_error', 'warning', { detail: { listener: opts.name, error: err.message } }));

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const bound = socket.address();
  return {
    name: opts.name,
    host: opts.host,
    port: bound.port,
    socket,
    close: () => new Promise<void>((resolve) => {
      server.close();
      socket.close(() => resolve());
    }),
  };
}
