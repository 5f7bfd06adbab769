/**
 * The MQTT listeners: plain TCP (loopback unless the operator opts in), TLS with client
 * certificates, and WebSocket at a path on the HTTPS listener (subprotocol `mqtt`). The HTTPS
 * listener's plain requests go to whatever the caller mounts on the server (the fastify app of
 * protocols/http/app.ts); upgrades on the WebSocket path never reach it.
 */
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { EventLog } from '../../core/events/event-log.ts';
import { peerIdentity } from '../tls-identity.ts';
import type { ListenerSettings } from './context.ts';
import type { MqttServer } from './server.ts';

export interface BoundListener {
  name: string;
  host: string;
  port: number;
  /** The listening TCP server, for the kernel-side ban filter (shield/kernel-filter); absent for UDP. */
  server?: NetServer;
  close(): Promise<void>;
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

async function listen(server: NetServer, host: string, port: number, name: string): Promise<BoundListener> {
  server.listen({ host, port, exclusive: true });
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  return {
    name,
    host: addr.address,
    port: addr.port,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The peer's address, or null when the peer already reset the connection before it was handled
 * (a flood does): such a socket is destroyed at once, never counted, banned or given a session
 * under a made-up address.
 */
function remoteOf(socket: Socket): { address: string; port: number } | null {
  const address = socket.remoteAddress;
  if (address === undefined) {
    socket.destroy();
    return null;
  }
  return { address, port: socket.remotePort ?? 0 };
}

export function startTcpListener(mqtt: MqttServer, opts: { host: string; port: number; settings: ListenerSettings }): Promise<BoundListener> {
  const server = createNetServer({ noDelay: true }, (socket) => {
    const r = remoteOf(socket);
    if (r === null) return;
    mqtt.handle(socket, { remoteAddress: r.address, remotePort: r.port, listener: opts.settings, peerCertificate: null, admitted: false });
  });
  return listen(server, opts.host, opts.port, opts.settings.name);
}

export function startTlsListener(mqtt: MqttServer, events: EventLog, opts: { host: string; port: number; settings: ListenerSettings; tls: TlsMaterial; requireClientCert: boolean; handshakeTimeoutMs: number }): Promise<BoundListener> {
  const server = createTlsServer({
    cert: opts.tls.certPem,
    key: opts.tls.keyPem,
    ca: opts.tls.caPem,
    // Only TLS 1.2 and 1.3; a client certificate verified against Palisade's CA.
    minVersion: 'TLSv1.2',
    requestCert: true,
    rejectUnauthorized: opts.requireClientCert,
    handshakeTimeout: opts.handshakeTimeoutMs,
  });
  // Admission before the handshake, so refused peers cost no cryptography.
  server.on('connection', (socket: Socket) => {
    const r = remoteOf(socket);
    if (r === null) return;
    mqtt.admit(socket, r.address, r.port, opts.settings.name);
    socket.setNoDelay(true);
  });
  handshakeDeadline(server, opts.handshakeTimeoutMs);
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!mqtt.admitCertificate(socket, opts.settings.name)) return;
    const r = remoteOf(socket);
    if (r === null) return;
    mqtt.handle(socket, { remoteAddress: r.address, remotePort: r.port, listener: opts.settings, peerCertificate: peerIdentity(socket), admitted: true });
  });
  server.on('tlsClientError', handshakeFailureRecorder(events, opts.settings.name, mqtt));
  return listen(server, opts.host, opts.port, opts.settings.name);
}

export interface HttpsListenerOptions {
  host: string;
  port: number;
  websocketPath: string;
  settings: ListenerSettings;
  tls: TlsMaterial;
  maxPacketSize: number;
  requireClientCert: boolean;
  handshakeTimeoutMs: number;
  /** Slow-loris bounds for plain requests (shield.http): request head, and whole request. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * Attaches the request handler to the server before it listens (protocols/http/app.ts
   * mountHttpApp); returns what to close on shutdown.
   */
  mount: (server: HttpsServer) => Promise<{ close(): Promise<void> }>;
  /**
   * Serves TLS connections from clients that offer only `h2` in ALPN (DoH stub resolvers,
   * RFC 8484 §5.2). Everyone who offers http/1.1 keeps HTTP/1.1. Without it, no ALPN is chosen.
   */
  h2Only?: (socket: TLSSocket) => void;
}

/**
 * ALPN (RFC 7301) when an h2-only handler exists: http/1.1 whenever offered, h2 only for clients
 * offering it without http/1.1, else the client's first choice (as with no ALPN configured).
 */
function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  if (protocols.includes('h2')) return 'h2';
  return protocols[0];
}

/** Routes h2 connections to `h2Only` instead of the HTTP/1 parser https.Server attached at construction. */
function splitH2(server: HttpsServer, h2Only: (socket: TLSSocket) => void): void {
  const http1 = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2Only(socket);
    else for (const l of http1) l.call(server, socket);
  });
}

export async function startHttpsListener(mqtt: MqttServer, events: EventLog, opts: HttpsListenerOptions): Promise<BoundListener> {
  const headersTimeoutMs = opts.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(opts.requestTimeoutMs ?? 30_000, headersTimeoutMs);
  const server: HttpsServer = createHttpsServer({
    cert: opts.tls.certPem,
    key: opts.tls.keyPem,
    ca: opts.tls.caPem,
    minVersion: 'TLSv1.2',
    requestCert: true,
    rejectUnauthorized: opts.requireClientCert,
    handshakeTimeout: opts.handshakeTimeoutMs,
    // Slow-loris bounds for plain requests; an upgraded WebSocket is no longer an HTTP request.
    // Node enforces them on a sweep every connectionsCheckingInterval (default 30 s), so the
    // sweep runs often enough for the bound to hold to within a fraction of itself.
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
    ...(opts.h2Only ? { ALPNCallback: chooseAlpn } : {}),
  });
  if (opts.h2Only) splitH2(server, opts.h2Only);
  server.on('connection', (socket: Socket) => {
    const r = remoteOf(socket);
    if (r === null) return;
    mqtt.admit(socket, r.address, r.port, opts.settings.name);
  });
  handshakeDeadline(server, opts.handshakeTimeoutMs);
  // Certificate bans once the handshake is done, before any request is read.
  server.on('secureConnection', (socket: TLSSocket) => {
    mqtt.admitCertificate(socket, opts.settings.name);
  });
  server.on('tlsClientError', handshakeFailureRecorder(events, opts.settings.name, mqtt));
  const app = await opts.mount(server);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPacketSize + 5,
    // MQTT over WebSocket uses the subprotocol "mqtt" (MQTT 5.0 §6).
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== opts.websocketPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tlsSocket = req.socket as TLSSocket;
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      mqtt.handle(stream, {
        remoteAddress: tlsSocket.remoteAddress ?? 'unknown',
        remotePort: tlsSocket.remotePort ?? 0,
        listener: opts.settings,
        peerCertificate: peerIdentity(tlsSocket),
        admitted: true,
      });
    });
  });
  let bound: BoundListener;
  try {
    bound = await listen(server, opts.host, opts.port, opts.settings.name);
  } catch (err) {
    await app.close();
    throw err;
  }
  return {
    ...bound,
    close: async () => {
      await app.close();
      wss.close();
      server.closeAllConnections();
      await bound.close();
    },
  };
}

/**
 * A deadline for the whole TLS handshake, from accept. Node's `handshakeTimeout` is an idle
 * timer (socket.setTimeout) that every received byte re-arms, so a peer trickling its
 * ClientHello a byte at a time would hold the connection for ever (slow-loris); this one does
 * not move. Cleared when the handshake completes or the socket closes.
 */
function handshakeDeadline(server: NetServer, ms: number): void {
  const pending = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    pending.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
    if (tcp !== undefined) clearTimeout(pending.get(tcp));
  });
}

/**
 * `tls.handshake_failed` with the reason: Node hands tlsClientError the hang-up (ECONNRESET)
 * when it rejected the peer's certificate itself; the verification verdict (CERT_HAS_EXPIRED,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE) is on the socket.
 */
function handshakeFailureRecorder(events: EventLog, listener: string, mqtt: MqttServer): (err: NodeJS.ErrnoException, socket: TLSSocket) => void {
  return (err, socket) => {
    // Refused at accept (ban, rate, cap): already recorded, rate-limited, by the shield; no TLS was spoken.
    const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
    if (tcp !== undefined && mqtt.refusedAtAccept(tcp)) return;
    const verdict = socket.authorizationError as Error | string | null | undefined;
    const reason = typeof verdict === 'string' ? verdict : verdict ? ((verdict as NodeJS.ErrnoException).code ?? verdict.message) : null;
    events.record('tls.handshake_failed', 'warning', { source: handshakePeer(socket), detail: { listener, error: reason ?? err.code ?? err.message, ...(reason ? { transportError: err.code ?? err.message } : {}) } });
  };
}

/**
 * Where a failed handshake came from. When the peer hung up first, the TLS socket has lost its
 * address; the TCP socket underneath (`_parent`, not a public field) kept it, because admission
 * read it at accept time and Node caches the peer name.
 */
function handshakePeer(socket: TLSSocket): string {
  const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
  const address = socket.remoteAddress ?? tcp?.remoteAddress;
  const port = socket.remotePort ?? tcp?.remotePort;
  return address === undefined ? 'unknown' : `${address}:${port ?? 0}`;
}
