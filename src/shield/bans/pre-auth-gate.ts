/**
 * The shield's checks on a connection before authentication (issue 5, point 1), shared by the
 * accept path and the CONNECT step of every protocol adapter:
 *
 *  - at accept: address bans and connection rates (Admission), refusals recorded here;
 *  - at TLS: a verified client certificate that is banned (serial or SHA-256 fingerprint);
 *  - at CONNECT, before any password hashing: client id, username and certificate bans, then
 *    flapping detection, which bans the flapping key through the ban list.
 *
 * Every refusal is a security event, rate-limited per ban (RefusalEvents): `shield.banned`
 * with the matched ban id, `shield.flapping` when a key is banned for flapping, and
 * `shield.connection_refused` for rates and caps.
 */
import type { EventLog } from '../../core/events/event-log.ts';
import type { Admission } from '../admission.ts';
import type { FlappingDetector } from '../flapping.ts';
import { RefusalEvents } from './refusal-events.ts';
import type { BanKeys, BanList, BanRecord } from './types.ts';

export interface PeerCertificateKeys {
  serial: string | null;
  fingerprint256: string | null;
}

export type GateVerdict = { allowed: true } | { allowed: false; ban: BanRecord | null; flapping: boolean };

export class PreAuthGate {
  readonly bans: BanList;
  readonly #flapping: FlappingDetector | null;
  readonly #events: EventLog;
  readonly #refusals: RefusalEvents;

  constructor(opts: { bans: BanList; flapping: FlappingDetector | null; events: EventLog; refusalIntervalMs?: number }) {
    this.bans = opts.bans;
    this.#flapping = opts.flapping;
    this.#events = opts.events;
    this.#refusals = new RefusalEvents(opts.events, opts.refusalIntervalMs ?? 10_000);
  }

  /** Admission at accept (before TLS); false when refused (the caller closes the socket). */
  admit(admission: Admission, address: string, source: string, listener: string): boolean {
    const v = admission.admit(address);
    if (v.admitted) return true;
    if (v.reason === 'banned') this.#banned(v.ban, source, listener, 'accept', null);
    else this.#refusals.record(`refused:${v.reason}:${address}`, 'shield.connection_refused', 'warning', { source, detail: { listener, reason: v.reason } });
    return false;
  }

  /** At the end of a TLS handshake: a banned client certificate is refused before any application data. */
  checkCertificate(cert: PeerCertificateKeys, source: string, listener: string): boolean {
    if (cert.serial === null && cert.fingerprint256 === null) return true;
    const ban = this.bans.match({ certSerial: cert.serial, certFingerprint: cert.fingerprint256 });
    if (!ban) return true;
    this.#banned(ban, source, listener, 'tls', null);
    return false;
  }

  /**
   * At CONNECT, before authentication: bans by client id, username and certificate, then one
   * more attempt counted for flapping. Refusals are recorded here.
   */
  checkConnect(keys: Required<Pick<BanKeys, 'address'>> & BanKeys, source: string, listener: string): GateVerdict {
    const ban = this.bans.match(keys);
    if (ban) {
      this.#banned(ban, source, listener, 'connect', keys.username ?? null);
      return { allowed: false, ban, flapping: false };
    }
    const flaps = this.#flapping?.record({ address: keys.address, clientId: keys.clientId ?? null, username: keys.username ?? null }) ?? [];
    if (flaps.length === 0) return { allowed: true };
    const s = this.#flapping!.settings;
    for (const f of flaps) {
      this.#events.record('shield.flapping', 'warning', { principal: keys.username ?? null, source, detail: { listener, key: f.kind, value: f.value, connects: f.connects, windowSeconds: s.windowSeconds, banSeconds: s.banSeconds } });
      this.bans
        .add({ kind: f.kind, value: f.value, reason: `flapping: ${f.connects} connects within ${s.windowSeconds} s`, expiresAt: Date.now() + s.banSeconds * 1000, by: 'flapping' })
        .catch((err: unknown) => this.#events.record('shield.error', 'critical', { detail: { error: err instanceof Error ? err.message : String(err), during: 'flapping ban' } }));
    }
    return { allowed: false, ban: null, flapping: true };
  }

  #banned(ban: BanRecord, source: string, listener: string, step: 'accept' | 'tls' | 'connect', principal: string | null): void {
    this.#refusals.record(`ban:${ban.id}`, 'shield.banned', 'warning', { principal, source, detail: { listener, step, banId: ban.id, kind: ban.kind, value: ban.value, reason: ban.reason } });
  }
}
