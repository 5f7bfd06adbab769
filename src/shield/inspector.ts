/**
 * The shield's implementation of core's MessageInspector port (src/core/messaging/inspection.ts):
 * rate limits first (cheapest, and a flood must not buy WAF time), then each content step in
 * order (topic schema/size rules, WAF, replay window), then the activity tap the anomaly
 * detector counts from. The first refusal wins and becomes one security event; the edge turns
 * it into the protocol's answer.
 */
import type { EventLog } from '../core/events/event-log.ts';
import type { InboundMessage, InspectionVerdict, MessageInspector, Refusal } from '../core/messaging/inspection.ts';
import type { MessageRateLimiter } from './rate/message-rate-limiter.ts';

/** One content check; returns a refusal, or a verdict that may replace the payload. */
export type InspectionStep = (message: InboundMessage) => InspectionVerdict;

export interface ShieldInspectorParts {
  rateLimiter: MessageRateLimiter | null;
  steps: InspectionStep[];
  /** Sees every message that passed (the anomaly detector's per-device counters). */
  onPassed?: (message: InboundMessage) => void;
  events: Pick<EventLog, 'record'>;
  now?: () => number;
}

const REFUSAL_EVENTS: Record<Refusal['reason'], string> = {
  rate_limited: 'shield.rate_limited',
  blocked: 'waf.blocked',
  invalid: 'waf.invalid_payload',
  replayed: 'replay.refused',
};

/**
 * Date.now() once per synchronous run of work (one socket read with many frames), not once per
 * message: the clock read was a tenth of the shield's cost per message on this VM. The cached
 * value is dropped when the run ends (a microtask), so an idle gateway never sees a stale time.
 */
const PASSED: InspectionVerdict = Object.freeze({ ok: true });

function tickClock(): () => number {
  let now = 0;
  let valid = false;
  const expire = (): void => {
    valid = false;
  };
  return () => {
    if (!valid) {
      now = Date.now();
      valid = true;
      queueMicrotask(expire);
    }
    return now;
  };
}

export class ShieldInspector implements MessageInspector {
  readonly #parts: ShieldInspectorParts;
  readonly #now: () => number;
  /** Devices currently throttled: one event per episode, not per message. */
  readonly #throttled = new Set<string>();

  constructor(parts: ShieldInspectorParts) {
    this.#parts = parts;
    this.#now = parts.now ?? tickClock();
  }

  inspect(m: InboundMessage): InspectionVerdict {
    const { principal } = m;
    let throttleMs = 0;
    const limiter = this.#parts.rateLimiter;
    if (limiter) {
      const r = limiter.check(principal.id, principal.segment, m.payload.length, m.deferrable, this.#now());
      if (!r.ok) {
        this.#episode(m, true, r.sustained);
        return { ok: false, reason: 'rate_limited', retryAfterMs: r.retryAfterMs, sustained: r.sustained };
      }
      throttleMs = r.throttleMs;
      if (throttleMs > 0 || this.#throttled.size > 0) this.#episode(m, throttleMs > 0, false);
    }
    let payload: Buffer | undefined;
    for (const step of this.#parts.steps) {
      const v = step(payload === undefined ? m : { ...m, payload });
      if (!v.ok) {
        this.#refused(m, v);
        return v;
      }
      if (v.payload !== undefined) payload = v.payload;
    }
    this.#parts.onPassed?.(payload === undefined ? m : { ...m, payload });
    if (payload === undefined && throttleMs === 0) return PASSED;
    const out: { ok: true; payload?: Buffer; throttleMs?: number } = { ok: true };
    if (payload !== undefined) out.payload = payload;
    if (throttleMs > 0) out.throttleMs = throttleMs;
    return out;
  }

  /** The device's session ended: a new throttle episode starts fresh. */
  sessionEnded(deviceId: string): void {
    this.#throttled.delete(deviceId);
    this.#parts.rateLimiter?.endEpisode(deviceId);
  }

  #episode(m: InboundMessage, over: boolean, sustained: boolean): void {
    const id = m.principal.id;
    if (!over) {
      if (this.#throttled.size > 0) this.#throttled.delete(id);
      return;
    }
    if (sustained) {
      this.#parts.events.record('shield.rate_sustained', 'warning', { principal: id, source: m.source, detail: { protocol: m.protocol, segment: m.principal.segment } });
      return;
    }
    if (this.#throttled.has(id)) return;
    if (this.#throttled.size > 100_000) this.#throttled.clear();
    this.#throttled.add(id);
    this.#parts.events.record(REFUSAL_EVENTS.rate_limited, 'warning', { principal: id, source: m.source, detail: { protocol: m.protocol, segment: m.principal.segment, topic: m.topic.slice(0, 256) } });
  }

  #refused(m: InboundMessage, v: Refusal): void {
    const detail: Record<string, unknown> = { protocol: m.protocol, topic: m.topic.slice(0, 256) };
    if (v.reason === 'blocked' || v.reason === 'invalid') Object.assign(detail, { rules: v.ruleIds }, v.detail);
    if (v.reason === 'replayed') detail.why = v.detail;
    this.#parts.events.record(REFUSAL_EVENTS[v.reason], 'warning', { principal: m.principal.id, source: m.source, detail });
  }
}
