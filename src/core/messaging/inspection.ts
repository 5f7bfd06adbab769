/**
 * shield.inspect (DESIGN.md §1): after policy allowed a device's message and before it is
 * routed, the shield looks at it — rate per device and segment, WAF rules, per-topic schema and
 * size, replay window — and counts it for the anomaly detector. Core declares the port; the
 * shield (src/shield/inspector.ts) implements it, and every protocol's publish path (MQTT
 * handlers/publish.ts, DeviceMessaging for HTTP and CoAP, gateway topics) calls it, so one
 * answer holds for every protocol.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { DevicePrincipal } from '../identity/principal.ts';

export type InspectedProtocol = 'mqtt' | 'http' | 'coap';

export interface InboundMessage {
  principal: DevicePrincipal;
  protocol: InspectedProtocol;
  topic: string;
  payload: Buffer;
  /** MQTT 5 user properties (replay counters travel here); empty for 3.1.1, HTTP and CoAP. */
  userProperties: Readonly<Record<string, string | string[]>>;
  /** Remote address (with port), for events. */
  source: string;
  /**
   * The sender keeps the message until acknowledged (MQTT QoS 1/2), so over a rate limit it
   * can be accepted and the sender slowed down instead of the message being refused.
   */
  deferrable: boolean;
}

export type Refusal =
  /** Over the device's or segment's messages/s or bytes/s; `sustained` once it has lasted (MQTT then disconnects 0x96). */
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number; sustained: boolean }
  /** The WAF scored it anomalous in a segment whose mode is block; `detail` goes into the event. */
  | { ok: false; reason: 'blocked'; ruleIds: string[]; detail?: Record<string, unknown> }
  /** Fails the topic's schema or size rule. */
  | { ok: false; reason: 'invalid'; ruleIds: string[]; detail?: Record<string, unknown> }
  /** A replay-protected topic: counter or nonce seen before, or stale. */
  | { ok: false; reason: 'replayed'; detail: string };

export type InspectionVerdict =
  /**
   * `payload`: what to route when the shield unwrapped a replay envelope; else route as received.
   * `throttleMs`: accepted, but the sender is over its rate: stop reading from it for this long.
   */
  | { ok: true; payload?: Buffer; throttleMs?: number }
  | Refusal;

export interface MessageInspector {
  inspect(message: InboundMessage): InspectionVerdict;
}

/** The inspector when the shield is off: everything passes. */
export const PASS_ALL: MessageInspector = { inspect: () => ({ ok: true }) };

/** A refusal as the error request-response edges (HTTP, CoAP) map to 429 / 403 / 400 / 409 and 4.29 / 4.03 / 4.00. */
export function refusalError(v: Refusal): PalisadeError {
  switch (v.reason) {
    case 'rate_limited':
      return new PalisadeError(ErrorCodes.RATE_LIMITED, 'message rate over the limit', { detail: { retryAfterMs: v.retryAfterMs } });
    case 'blocked':
      return new PalisadeError(ErrorCodes.PAYLOAD_BLOCKED, 'blocked by the WAF', { detail: { rules: v.ruleIds } });
    case 'invalid':
      return new PalisadeError(ErrorCodes.PAYLOAD_INVALID, 'payload fails the topic rules', { detail: { rules: v.ruleIds } });
    case 'replayed':
      return new PalisadeError(ErrorCodes.REPLAYED, 'replayed or stale message', { detail: { why: v.detail } });
  }
}
