/**
 * Builds the shield's message inspector from the validated config: the rate limiter with the
 * per-segment overrides from `policy.segments.<name>.rateLimit`, and the content steps the
 * gateway hands in (WAF, topic rules, replay guard) in the order given.
 */
import type { PalisadeConfig } from '../config/schema.ts';
import type { EventLog } from '../core/events/event-log.ts';
import type { InboundMessage } from '../core/messaging/inspection.ts';
import { ShieldInspector, type InspectionStep } from './inspector.ts';
import { MessageRateLimiter, type RateLimitConfig } from './rate/message-rate-limiter.ts';

export function rateLimitConfig(config: PalisadeConfig): RateLimitConfig {
  const r = config.shield.rateLimit;
  const segments: Record<string, { device?: RateLimitConfig['device']; segment?: RateLimitConfig['segment'] }> = {};
  for (const [name, seg] of Object.entries(config.policy.segments)) {
    if (!seg.rateLimit) continue;
    const o: (typeof segments)[string] = {};
    if (seg.rateLimit.device) o.device = seg.rateLimit.device;
    if (seg.rateLimit.segment !== undefined) o.segment = seg.rateLimit.segment;
    segments[name] = o;
  }
  return { device: r.device, segment: r.segment, segments, sustainedMs: r.sustainedSeconds * 1000 };
}

export function createShieldInspector(config: PalisadeConfig, events: Pick<EventLog, 'record'>, parts: { steps?: InspectionStep[]; onPassed?: (m: InboundMessage) => void } = {}): ShieldInspector {
  const limiter = config.shield.rateLimit.enabled ? new MessageRateLimiter(rateLimitConfig(config)) : null;
  const inspector: ConstructorParameters<typeof ShieldInspector>[0] = { rateLimiter: limiter, steps: parts.steps ?? [], events };
  if (parts.onPassed) inspector.onPassed = parts.onPassed;
  return new ShieldInspector(inspector);
}
