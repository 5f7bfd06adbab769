/**
 * The replay guard (issue 5, point 5): part of shield.inspect for device messages. On a topic an
 * operator marked protected (`shield.replay.topics`, MQTT filters, or per segment), a message
 * must carry a counter or a nonce + timestamp — MQTT 5 user properties or the JSON envelope for
 * 3.1.1, HTTP and CoAP; the wire format is in src/device-kit/wire.ts. Per device:
 *  - counters go through a sliding window (device-kit/counter-window.ts: highest + bitmap of the
 *    last `window`, RFC 6347 §4.1.2.6 / RFC 8613 §7.4), persisted every `persistEvery` and
 *    skipped ahead after a crash (core/replay/persistence.ts, RFC 8613 Appendix B.1.1);
 *  - nonces through a NonceWindow (±maxSkewSeconds, bounded per device).
 * Unprotected topics pass at the cost of one trie walk (none at all when nothing is protected).
 *
 * Verdicts map onto the inspector port: `{ ok: true }`, `{ ok: true, payload }` when an envelope
 * was unwrapped (route the original), or `{ ok: false, reason: 'replayed', detail }`.
 */
import { CounterWindow } from '../../device-kit/counter-window.ts';
import { readStamp } from '../../device-kit/wire.ts';
import type { InboundMessage, InspectionVerdict, MessageInspector } from '../../core/messaging/inspection.ts';
import { CounterPersistence } from '../../core/replay/persistence.ts';
import type { ReplayStateRepo } from '../../core/replay/types.ts';
import { NonceWindow } from './nonce-window.ts';
import { ProtectedTopics } from './topics.ts';

/** `shield.replay` in the config (src/config/schema.ts). */
export interface ReplaySettings {
  topics: readonly string[];
  window: number;
  maxSkewSeconds: number;
  persistEvery: number;
  maxNoncesPerDevice: number;
  segments: Readonly<Record<string, { topics: readonly string[] }>>;
}

export interface ReplayGuardDeps {
  repo: ReplayStateRepo;
  settings: ReplaySettings;
  /** A failed background write of the persisted counter (report it; the guard keeps working). */
  onPersistError: (err: unknown) => void;
  now?: () => number;
}

interface DeviceState {
  counters: CounterWindow | null;
  nonces: NonceWindow | null;
}

const OK: InspectionVerdict = { ok: true };

function refuse(detail: string): InspectionVerdict {
  return { ok: false, reason: 'replayed', detail };
}

export class ReplayGuard implements MessageInspector {
  readonly #settings: ReplaySettings;
  readonly #topics: ProtectedTopics;
  readonly #persistence: CounterPersistence;
  readonly #now: () => number;
  /** Restored starting points of devices whose window is not built yet. */
  readonly #restored: Map<string, number>;
  readonly #devices = new Map<string, DeviceState>();
  /** Nonce windows start here: nothing stamped before this process started is accepted. */
  readonly #startedAt: number;

  private constructor(deps: ReplayGuardDeps, persistence: CounterPersistence, restored: Map<string, number>) {
    this.#settings = deps.settings;
    this.#topics = new ProtectedTopics(deps.settings.topics, deps.settings.segments);
    this.#persistence = persistence;
    this.#now = deps.now ?? Date.now;
    this.#restored = restored;
    this.#startedAt = this.#now();
  }

  /** Loads the persisted windows (one read of the `up` stream). */
  static async open(deps: ReplayGuardDeps): Promise<ReplayGuard> {
    const persistence = new CounterPersistence({ repo: deps.repo, stream: 'up', persistEvery: deps.settings.persistEvery, onError: deps.onPersistError, now: deps.now });
    return new ReplayGuard(deps, persistence, await persistence.load());
  }

  /** False when no topic is protected: the integrator may leave the guard out of the path. */
  get enabled(): boolean {
    return this.#topics.any;
  }

  inspect(m: InboundMessage): InspectionVerdict {
    return this.check(m);
  }

  check(m: InboundMessage): InspectionVerdict {
    if (!this.#topics.isProtected(m.principal.segment, m.topic)) return OK;
    const r = readStamp(m.userProperties, m.payload);
    if (r.ok === 'none') return refuse('missing replay protection');
    if (r.ok === false) return refuse(r.error);
    const state = this.#state(m.principal.id);
    const s = r.stamp;
    if (s.kind === 'ctr') {
      const w = (state.counters ??= new CounterWindow(this.#settings.window, this.#restored.get(m.principal.id) ?? 0));
      const c = w.check(s.ctr);
      if (c === 'duplicate') return refuse(`duplicate counter ${s.ctr}`);
      if (c === 'stale') return refuse(`counter ${s.ctr} is older than the window (highest ${w.highest}, window ${w.size})`);
      // Persisted (when due) before the message is let through: RFC 8613 Appendix B.1.1.
      this.#persistence.note(m.principal.id, s.ctr);
      w.accept(s.ctr);
    } else {
      const now = this.#now();
      const skewMs = this.#settings.maxSkewSeconds * 1000;
      const w = (state.nonces ??= new NonceWindow({ maxSkewMs: skewMs, cap: this.#settings.maxNoncesPerDevice, horizon: this.#startedAt }));
      const c = w.check(s.nonce, s.ts, now);
      if (c === 'skew') return refuse(`timestamp ${s.ts} is outside ±${this.#settings.maxSkewSeconds} s of the gateway clock`);
      if (c === 'stale') return refuse(`timestamp ${s.ts} is at or before the replay horizon ${w.horizon}`);
      if (c === 'duplicate') return refuse('duplicate nonce');
      w.accept(s.nonce, s.ts, now);
    }
    return r.payload === null ? OK : { ok: true, payload: r.payload };
  }

  /** Clean stop: writes every device's exact highest counter, so a restart loses none. */
  flush(): Promise<void> {
    return this.#persistence.flush();
  }

  #state(deviceId: string): DeviceState {
    let s = this.#devices.get(deviceId);
    if (!s) {
      s = { counters: null, nonces: null };
      this.#devices.set(deviceId, s);
    }
    return s;
  }
}
