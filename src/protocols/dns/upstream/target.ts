/**
 * One configured upstream, resolved once at start: its address in canonical form (so a reply's
 * source can be compared with it), port, protocol and TLS settings; and the failure type the
 * transports use to tell the forwarder why an attempt ended.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { DnsUpstreamConfig } from '../../../config/dns.ts';
import { ErrorCodes, PalisadeError } from '../../../core/errors.ts';
import { parseIp } from '../../../core/policy/cidr.ts';

export interface UpstreamTarget {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly protocol: 'udp' | 'tcp' | 'tls';
  /** The 16-byte form of the address, as hex: replies are compared against it. */
  readonly addressKey: string;
  /** tls: the name the certificate must carry (null: the address, an IP SAN). */
  readonly tlsServerName: string | null;
  /** tls: PEM CAs to trust instead of the system's. */
  readonly tlsCa: Buffer | null;
  /** For logs and errors: `tls://9.9.9.9:853`. */
  readonly label: string;
}

export function resolveTarget(c: DnsUpstreamConfig): UpstreamTarget {
  const family = isIP(c.address);
  // An upstream named by host name would need DNS to find DNS; and an address is what
  // RFC 5452 §3 checks replies against.
  if (family === 0) throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `DNS upstream address must be an IP address: ${c.address}`);
  // RFC 7858 §3.1: DNS over TLS on 853 by default; RFC 1035 §4.2: 53 for UDP and TCP.
  const port = c.port ?? (c.protocol === 'tls' ? 853 : 53);
  let tlsCa: Buffer | null = null;
  if (c.protocol === 'tls' && c.tlsCaFile !== null) {
    try {
      tlsCa = readFileSync(c.tlsCaFile);
    } catch (err) {
      throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `cannot read DNS upstream CA file ${c.tlsCaFile}`, { cause: err });
    }
  }
  return {
    address: c.address,
    family: family === 6 ? 6 : 4,
    port,
    protocol: c.protocol,
    addressKey: addressKey(c.address) ?? c.address,
    tlsServerName: c.tlsServerName,
    tlsCa,
    label: `${c.protocol}://${family === 6 ? `[${c.address}]` : c.address}:${port}`,
  };
}

/** The 16-byte form of an IP address as hex (IPv4 mapped), or null for no address. */
export function addressKey(address: string): string | null {
  const a = parseIp(address);
  return a === null ? null : Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** Why one attempt at one upstream ended without a usable answer. */
export class AttemptFailure extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'AttemptFailure';
    this.reason = reason;
  }
}
