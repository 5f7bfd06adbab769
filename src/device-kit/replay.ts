/**
 * Device side of replay protection (issue 5, point 5), for device applications on plain Node:
 *
 * - ReplayStamper stamps what the device publishes on protected topics: a counter as MQTT 5 user
 *   properties or inside the envelope (wire.ts), or a nonce + timestamp.
 * - CommandVerifier checks the counter the gateway puts on every command, with its own window,
 *   and hands back the original payload.
 *
 * Persistence is the device app's: it passes what it stored last time and a `save` callback
 * that must be durable when it returns (a synchronous file write, flash, NVS). The stamper saves
 * a reservation every K counters — it never issues a counter above the last saved reservation,
 * so a restart continues after it and never reuses one (RFC 8613 Appendix B.1.1). The verifier
 * saves its highest accepted counter every K and, restarted, treats everything up to
 * saved + K - 1 as seen; commands are rare, so its default K is 1 (exact, one write per command).
 *
 * Imports nothing from the gateway.
 */
import { randomBytes } from 'node:crypto';
import { CounterWindow } from './counter-window.ts';
import { encodeEnvelope, readStamp, stampProperties, type JsonValue, type ReplayStamp } from './wire.ts';

export interface StamperOptions {
  /** The last value `save` received (from a previous run), or null on the device's first start. */
  stored: number | null;
  /** Stores the reservation durably before returning. */
  save: (reserved: number) => void;
  /** Counters reserved per save; default 32. */
  persistEvery?: number;
}

export class ReplayStamper {
  readonly #save: (reserved: number) => void;
  readonly #every: number;
  #next: number;
  #reserved: number;

  constructor(opts: StamperOptions) {
    this.#save = opts.save;
    this.#every = opts.persistEvery ?? 32;
    if (!Number.isInteger(this.#every) || this.#every < 1) throw new RangeError('persistEvery must be a positive integer');
    this.#reserved = opts.stored ?? 0;
    this.#next = this.#reserved + 1;
  }

  /** The next counter; saves a new reservation first when it runs past the last one. */
  nextCounter(): number {
    const c = this.#next;
    if (c > this.#reserved) {
      const reserved = c + this.#every - 1;
      this.#save(reserved);
      this.#reserved = reserved;
    }
    this.#next = c + 1;
    return c;
  }

  stamp(): ReplayStamp {
    return { kind: 'ctr', ctr: this.nextCounter() };
  }

  /** MQTT 5: user properties to publish with, e.g. `{ properties: { userProperties: stamper.properties() } }`. */
  properties(): Record<string, string> {
    return stampProperties(this.stamp());
  }

  /** MQTT 3.1.1, HTTP, CoAP: the payload to send instead of `payload` (bytes travel as base64). */
  envelope(payload: Uint8Array | JsonValue): Buffer {
    return encodeEnvelope(this.stamp(), payload);
  }
}

/**
 * A nonce stamp: 144 random bits (24 base64url characters, the format's minimum length) and the
 * device's clock; needs no stored state, but a set clock.
 */
export function nonceStamp(now: number = Date.now()): ReplayStamp {
  return { kind: 'nonce', nonce: randomBytes(18).toString('base64url'), ts: now };
}

export interface VerifierOptions {
  /** Window size; default 64. */
  window?: number;
  /** The last value `save` received, or null. */
  stored?: number | null;
  /** Stores the highest accepted counter; without it the window does not survive a restart. */
  save?: (highest: number) => void;
  /** Default 1: commands are rare, so every accepted one is saved. */
  persistEvery?: number;
}

export type CommandCheck = { ok: true; counter: number; payload: Buffer } | { ok: false; reason: string };

export class CommandVerifier {
  readonly #window: CounterWindow;
  readonly #save: ((highest: number) => void) | null;
  readonly #every: number;
  #saved: number | null;

  constructor(opts: VerifierOptions = {}) {
    this.#every = opts.persistEvery ?? 1;
    if (!Number.isInteger(this.#every) || this.#every < 1) throw new RangeError('persistEvery must be a positive integer');
    const stored = opts.stored ?? null;
    // Skip ahead past whatever may have been accepted after the last save (RFC 8613 Appendix B.1.1).
    this.#window = new CounterWindow(opts.window ?? 64, stored === null ? 0 : stored + this.#every - 1);
    this.#save = opts.save ?? null;
    this.#saved = stored;
  }

  get highest(): number {
    return this.#window.highest;
  }

  /**
   * A command as received: its MQTT 5 user properties (empty for 3.1.1) and payload. Refused
   * when it carries no counter, a duplicate or a stale one; on success the original payload.
   */
  verify(userProperties: Readonly<Record<string, string | string[]>>, payload: Uint8Array): CommandCheck {
    const r = readStamp(userProperties, payload);
    if (r.ok === 'none') return { ok: false, reason: 'command without a replay counter' };
    if (r.ok === false) return { ok: false, reason: r.error };
    if (r.stamp.kind !== 'ctr') return { ok: false, reason: 'commands carry a counter, not a nonce' };
    const ctr = r.stamp.ctr;
    const check = this.#window.check(ctr);
    if (check !== 'ok') return { ok: false, reason: `${check} command counter ${ctr}` };
    // Saved before the command is acted on, so a crash right after cannot let it run twice.
    if (this.#save && (this.#saved === null || ctr >= this.#saved + this.#every)) {
      this.#save(ctr);
      this.#saved = ctr;
    }
    this.#window.accept(ctr);
    return { ok: true, counter: ctr, payload: r.payload ?? Buffer.from(payload) };
  }
}
