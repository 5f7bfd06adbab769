/** The DTLS server's public types: the contract the CoAP-over-DTLS adapter codes against (issue 4 brief). */
import type { Socket } from 'node:dgram';
import type { PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import type { Severity } from '../../core/ports.ts';
import type { FlightTimerOptions } from './flight.ts';

export type DtlsIdentity = { kind: 'psk'; id: string } | { kind: 'certificate'; cert: PeerCertificateIdentity };

export interface DtlsSession {
  readonly remote: { address: string; port: number };
  readonly identity: DtlsIdentity;
  /** The negotiated suite's IANA name, e.g. TLS_PSK_WITH_AES_128_CCM_8. */
  readonly cipherSuite: string;
  send(data: Buffer): void;
  onData(cb: (b: Buffer) => void): void;
  onClose(cb: () => void): void;
  close(): void;
}

export interface DtlsEventSink {
  record(type: string, severity: Severity, ctx?: { principal?: string | null; source?: string | null; detail?: Record<string, unknown> }): void;
}

export interface DtlsServerOptions {
  socket: Socket;
  /** The device's PSK for a PSK identity (= device id), or null when there is none (refused as a wrong key, RFC 4279 §2). */
  psk?(identity: string): Promise<Buffer | null>;
  /** Server certificate, key (P-256) and the CA certificates device certificates must chain to. */
  cert?: { certPem: string; keyPem: string; caPem: string };
  /**
   * Called after the chain verified against caPem, with the identity read from it; returns the
   * identity to use, or null to refuse (revoked, unknown or disabled device).
   */
  verifyPeer?(chainDer: Buffer[], verified: PeerCertificateIdentity): PeerCertificateIdentity | null | Promise<PeerCertificateIdentity | null>;
  events?: DtlsEventSink;
  /** Senders to ignore before any parsing (the shield's address bans); their datagrams are counted as `banned`. */
  dropFrom?(address: string): boolean;
  /** Established plus handshaking peers (default 10000). */
  maxPeers?: number;
  /** Peers past the cookie exchange but not yet established (default 1000). */
  maxHandshakes?: number;
  /** An established session with no valid record for this long is dropped (default 300 s). */
  idleTimeoutMs?: number;
  /** A handshake not finished within this is dropped (default 30 s). */
  handshakeTimeoutMs?: number;
  /** Datagram size the server stays under (default 1200, safe for IPv6's 1280 minimum). */
  mtu?: number;
  retransmit?: FlightTimerOptions;
  /** Offer only these suites (IANA ids), in this order of preference. */
  suites?: number[];
  /** Period of the `dtls.records_dropped` summary event (default 10 s). */
  dropReportMs?: number;
  /** Cookie secret rotation period (default 60 s). */
  cookieRotateMs?: number;
}

export interface DtlsStats {
  datagrams: number;
  helloVerifyRequests: number;
  cookieFailures: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  /** Records dropped silently (RFC 6347 §4.1.2.7), by reason. */
  dropped: { malformed: number; badEpoch: number; badMac: number; replay: number; unexpected: number; overCapacity: number; banned: number };
  peers: number;
}
