/**
 * The DnsUpstream the DNS engine forwards cache misses to (src/protocols/dns/upstream-types.ts).
 *
 * Upstreams are tried in their configured order, each attempt bounded by `timeoutMs`: a
 * timeout, a network or TLS failure, a malformed answer, or a SERVFAIL/REFUSED answer moves on
 * to the next; when none answers, forward() rejects with UPSTREAM_FAILED (the engine may then
 * serve stale, RFC 8767). A UDP answer with TC=1 is asked again over TCP of the same upstream
 * (RFC 7766 §5), with its own `timeoutMs`. Queries in flight are capped; past the cap forward()
 * fails at once rather than queueing without bound.
 *
 * Each upstream's health is tracked only to log and record its transitions (down, back up), so a
 * dead upstream is one event, not one per query.
 */
import type { DnsUpstreamConfig } from '../../../config/dns.ts';
import { ErrorCodes, PalisadeError } from '../../../core/errors.ts';
import type { EventLog } from '../../../core/events/event-log.ts';
import type { DnsUpstream } from '../upstream-types.ts';
import { StreamUpstream } from './stream.ts';
import { AttemptFailure, resolveTarget, type UpstreamTarget } from './target.ts';
import { UdpUpstream } from './udp.ts';
import { questionKey, rcodeOf } from './wire.ts';
import { RCODE_REFUSED, RCODE_SERVFAIL } from '../wire.ts';

/** The subset of a pino logger used here. */
export interface UpstreamLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface UpstreamOptions {
  upstreams: readonly DnsUpstreamConfig[];
  /** Per attempt at one upstream (dns.timeoutMs). */
  timeoutMs: number;
  /** forward() calls in flight at once; past it, fail fast (default 4096). */
  maxInFlight?: number;
  /** TCP/TLS connections with nothing in flight are closed after this long (default 10 s). */
  idleMs?: number;
  /** UDP: queries sent from one random source port before a new one is bound (default 16; 1 = a port per query). udp.ts says why. */
  udpQueriesPerPort?: number;
  /** UDP: a source port is used at most this long (default 1 s). */
  udpPortMaxAgeMs?: number;
  logger?: UpstreamLogger;
  events?: Pick<EventLog, 'record'>;
}

export interface UpstreamStats {
  inFlight: number;
  /** Replies dropped for a wrong source, id or question since start (RFC 5452 §3). */
  mismatched: number;
}

export interface Upstream extends DnsUpstream {
  stats(): UpstreamStats;
}

interface Slot {
  readonly target: UpstreamTarget;
  udp: UdpUpstream | null;
  /** The TCP connection for `tcp` upstreams and for `udp` ones after TC=1; TLS for `tls`. */
  stream: StreamUpstream | null;
  down: boolean;
}

export const DEFAULT_MAX_IN_FLIGHT = 4096;
export const DEFAULT_IDLE_MS = 10_000;
export const DEFAULT_UDP_QUERIES_PER_PORT = 16;
export const DEFAULT_UDP_PORT_MAX_AGE_MS = 1000;

export function createUpstream(opts: UpstreamOptions): Upstream {
  if (opts.upstreams.length === 0) throw new PalisadeError(ErrorCodes.CONFIG_INVALID, 'at least one DNS upstream is required');
  const slots: Slot[] = opts.upstreams.map((c) => ({ target: resolveTarget(c), udp: null, stream: null, down: false }));
  const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  let inFlight = 0;
  let mismatched = 0;
  let closed = false;

  const onMismatch = (t: UpstreamTarget) => (reason: string): void => {
    mismatched++;
    // A reply that does not match is how a spoofing attempt shows (RFC 5452 §3). The event log
    // folds a flood of one type into a count.
    opts.events?.record('dns.upstream.mismatch', 'warning', { source: t.label, detail: { reason } });
  };

  const udpOf = (s: Slot): UdpUpstream => {
    s.udp ??= new UdpUpstream({
      target: s.target,
      queriesPerPort: Math.max(1, opts.udpQueriesPerPort ?? DEFAULT_UDP_QUERIES_PER_PORT),
      portMaxAgeMs: opts.udpPortMaxAgeMs ?? DEFAULT_UDP_PORT_MAX_AGE_MS,
      onMismatch: onMismatch(s.target),
    });
    return s.udp;
  };

  const streamOf = (s: Slot): StreamUpstream => {
    s.stream ??= new StreamUpstream({
      target: s.target,
      tls: s.target.protocol === 'tls',
      idleMs,
      onMismatch: onMismatch(s.target),
      onTlsFailure: (reason) => {
        opts.events?.record('dns.upstream.tls_failed', 'warning', { source: s.target.label, detail: { reason, serverName: s.target.tlsServerName ?? s.target.address } });
      },
    });
    return s.stream;
  };

  const attempt = async (s: Slot, query: Buffer, question: string): Promise<Buffer> => {
    const x = { query, question, timeoutMs: opts.timeoutMs };
    if (s.target.protocol !== 'udp') return streamOf(s).exchange(x);
    const r = await udpOf(s).exchange(x);
    if (r.kind === 'answer') return r.message;
    // close() came while the UDP answer was on its way: no new connection after it.
    if (closed) throw new AttemptFailure('closed');
    // RFC 7766 §5 / RFC 1035 §4.2.1: truncated over UDP, ask again over TCP on the same port.
    return streamOf(s).exchange(x);
  };

  const mark = (s: Slot, failure: string | null): void => {
    if (failure === null) {
      if (s.down) {
        s.down = false;
        opts.logger?.info({ upstream: s.target.label }, 'DNS upstream answers again');
        opts.events?.record('dns.upstream.up', 'info', { source: s.target.label });
      }
      return;
    }
    opts.logger?.debug({ upstream: s.target.label, reason: failure }, 'DNS upstream attempt failed');
    if (!s.down) {
      s.down = true;
      opts.logger?.warn({ upstream: s.target.label, reason: failure }, 'DNS upstream failing');
      opts.events?.record('dns.upstream.down', 'warning', { source: s.target.label, detail: { reason: failure } });
    }
  };

  const forward = async (query: Buffer): Promise<Buffer> => {
    if (closed) throw new PalisadeError(ErrorCodes.UPSTREAM_FAILED, 'DNS upstreams are closed');
    if (inFlight >= maxInFlight) {
      throw new PalisadeError(ErrorCodes.UPSTREAM_FAILED, 'too many DNS queries in flight to upstreams', { detail: { inFlight, maxInFlight } });
    }
    const question = questionKey(query);
    if (question === null) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'DNS query to forward must carry exactly one readable question');
    const originalId = query.readUInt16BE(0);
    const failures: { upstream: string; reason: string }[] = [];
    inFlight++;
    try {
      for (const s of slots) {
        let reason: string;
        try {
          const answer = await attempt(s, query, question);
          const rcode = rcodeOf(answer);
          if (rcode !== RCODE_SERVFAIL && rcode !== RCODE_REFUSED) {
            mark(s, null);
            // The caller's id back; nothing else is changed.
            answer.writeUInt16BE(originalId, 0);
            return answer;
          }
          reason = rcode === RCODE_SERVFAIL ? 'SERVFAIL' : 'REFUSED';
        } catch (err) {
          if (!(err instanceof AttemptFailure)) throw err;
          reason = err.reason;
        }
        failures.push({ upstream: s.target.label, reason });
        if (closed) break;
        mark(s, reason);
      }
    } finally {
      inFlight--;
    }
    throw new PalisadeError(ErrorCodes.UPSTREAM_FAILED, closed ? 'DNS upstreams are closed' : 'every DNS upstream failed', { detail: { attempts: failures } });
  };

  return {
    forward,
    stats: () => ({ inFlight, mismatched }),
    close: () => {
      if (!closed) {
        closed = true;
        for (const s of slots) {
          s.udp?.close();
          s.stream?.close();
        }
      }
      return Promise.resolve();
    },
  };
}
