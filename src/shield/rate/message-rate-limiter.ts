/**
 * Message rate limits per device and per segment (issue 5, point 2): two token buckets each,
 * messages/s and bytes/s, with bursts. A message passes only if the device's buckets and its
 * segment's aggregate buckets all have room.
 *
 * Over the limit, what happens depends on whether the message may be delayed:
 *  - deferrable (MQTT QoS 1/2: the client keeps it until acknowledged): accepted into debt, and
 *    the verdict says how long the sender must wait — the MQTT connection stops reading for that
 *    long (backpressure, nothing lost);
 *  - not deferrable (MQTT QoS 0, an HTTP or CoAP request): refused with the wait, and the edge
 *    drops it (QoS 0) or answers 429 / 4.29 with that Retry-After.
 * A device over its limit again and again (no quiet second in between) for `sustainedMs` is
 * reported `sustained` — a flood that still gets the allowed rate through counts — and MQTT then
 * disconnects it with 0x96 (Message rate too high).
 *
 * Limits come from config (`shield.rateLimit`) with per-segment overrides in the segment's
 * policy (`policy.segments.<name>.rateLimit`). Idle buckets are forgotten (bounded memory).
 */
import { TokenBucket } from './token-bucket.ts';

export interface RateLimits {
  messagesPerSecond: number;
  messagesBurst: number;
  bytesPerSecond: number;
  bytesBurst: number;
}

export interface RateLimitConfig {
  /** Per device. */
  device: RateLimits;
  /** All devices of one segment together; null = no aggregate limit. */
  segment: RateLimits | null;
  /** Overrides by segment name. */
  segments: Readonly<Record<string, { device?: RateLimits; segment?: RateLimits | null }>>;
  sustainedMs: number;
}

export type RateVerdict =
  | { ok: true; throttleMs: number }
  | { ok: false; retryAfterMs: number; sustained: boolean };

interface Pair {
  messages: TokenBucket;
  bytes: TokenBucket;
}

interface DeviceState extends Pair {
  /** When this device first went over its limit in the current episode; 0 = not over. */
  overSince: number;
  /** The last time it was over. An episode ends after a quiet second, not at the first message that fits. */
  lastOver: number;
}

const MAX_TRACKED = 200_000;
const PASS: RateVerdict = Object.freeze({ ok: true, throttleMs: 0 });
/** Within the limit this long after the last excess: the episode is over. */
const QUIET_MS = 1000;
const SWEEP_EVERY_MS = 60_000;

/** One message from both buckets of a pair, or from neither. */
function takeBoth(p: Pair, bytes: number, now: number): boolean {
  if (!p.messages.tryTake(1, now)) return false;
  if (p.bytes.tryTake(bytes, now)) return true;
  p.messages.give(1);
  return false;
}

export class MessageRateLimiter {
  readonly #config: RateLimitConfig;
  readonly #devices = new Map<string, DeviceState>();
  readonly #segments = new Map<string, Pair>();
  #lastSweep = 0;

  constructor(config: RateLimitConfig) {
    this.#config = config;
  }

  check(deviceId: string, segment: string, bytes: number, deferrable: boolean, now: number): RateVerdict {
    if (now - this.#lastSweep > SWEEP_EVERY_MS) this.#sweep(now);
    const d = this.#device(deviceId, segment, now);
    const s = this.#segment(segment, now);
    if (deferrable) {
      const wait = Math.max(d.messages.take(1, now), d.bytes.take(bytes, now), s ? Math.max(s.messages.take(1, now), s.bytes.take(bytes, now)) : 0);
      if (wait === 0) {
        if (d.overSince !== 0) this.#within(d, now);
        return PASS;
      }
      const sustained = this.#over(d, now);
      return sustained ? { ok: false, retryAfterMs: wait, sustained } : { ok: true, throttleMs: wait };
    }
    // The common case first: every bucket has room, four takes and no other work.
    if (takeBoth(d, bytes, now)) {
      if (s === null || takeBoth(s, bytes, now)) {
        if (d.overSince !== 0) this.#within(d, now);
        return PASS;
      }
      d.messages.give(1);
      d.bytes.give(bytes);
    }
    const wait = Math.max(d.messages.waitFor(1, now), d.bytes.waitFor(bytes, now), s ? Math.max(s.messages.waitFor(1, now), s.bytes.waitFor(bytes, now)) : 0);
    return { ok: false, retryAfterMs: Math.max(wait, 1), sustained: this.#over(d, now) };
  }

  /** Marks the device over its limit now; true once the episode has lasted sustainedMs. */
  #over(d: DeviceState, now: number): boolean {
    if (d.overSince === 0 || now - d.lastOver > QUIET_MS) d.overSince = now;
    d.lastOver = now;
    return now - d.overSince >= this.#config.sustainedMs;
  }

  #within(d: DeviceState, now: number): void {
    if (d.overSince !== 0 && now - d.lastOver > QUIET_MS) d.overSince = 0;
  }

  /** A device's session ended: its episode ends with it (buckets stay, so reconnecting does not refill them). */
  endEpisode(deviceId: string): void {
    const d = this.#devices.get(deviceId);
    if (d) d.overSince = 0;
  }

  get trackedDevices(): number {
    return this.#devices.size;
  }

  #device(id: string, segment: string, now: number): DeviceState {
    let d = this.#devices.get(id);
    if (d) return d;
    if (this.#devices.size >= MAX_TRACKED) this.#sweep(now);
    const l = this.#config.segments[segment]?.device ?? this.#config.device;
    d = { messages: new TokenBucket(l.messagesPerSecond, l.messagesBurst, now), bytes: new TokenBucket(l.bytesPerSecond, l.bytesBurst, now), overSince: 0, lastOver: 0 };
    this.#devices.set(id, d);
    return d;
  }

  #segment(name: string, now: number): Pair | null {
    let s = this.#segments.get(name);
    if (s) return s;
    const override = this.#config.segments[name];
    const l = override && 'segment' in override ? override.segment ?? null : this.#config.segment;
    if (l === null) return null;
    s = { messages: new TokenBucket(l.messagesPerSecond, l.messagesBurst, now), bytes: new TokenBucket(l.bytesPerSecond, l.bytesBurst, now) };
    this.#segments.set(name, s);
    return s;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [id, d] of this.#devices) if (d.overSince === 0 && d.messages.idle(now) && d.bytes.idle(now)) this.#devices.delete(id);
    // Still over the cap (a flood of distinct ids all in debt): forget the oldest; they start full.
    if (this.#devices.size >= MAX_TRACKED) {
      let n = this.#devices.size - MAX_TRACKED / 2;
      for (const id of this.#devices.keys()) {
        if (n-- <= 0) break;
        this.#devices.delete(id);
      }
    }
  }
}
