/**
 * `shield.waf` (issue 5, point 3): the WAF's mode, paranoia level and anomaly threshold, per
 * segment overrides, the HTTP request mode, and per-topic payload rules (size, JSON Schema).
 * Secure by default: blocking at paranoia level 1 with the CRS threshold (one critical hit).
 */
import { z } from 'zod';

const mode = z.enum(['block', 'log', 'off']);
const paranoia = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]);

export const wafSchema = z.strictObject({
  /**
   * Which engine inspects: Palisade's own, ModSecurity v3 with the OWASP CRS (the optional native
   * addon, src/shield/waf/modsecurity.ts), or both (refused when either blocks).
   */
  engine: z.enum(['palisade', 'modsecurity', 'both']).default('palisade'),
  /** Device payloads: block (refuse and log), log (pass and log), off. */
  mode: mode.default('block'),
  paranoia: paranoia.default(1),
  /** Inbound anomaly score at which a message is anomalous (CRS default 5 = one critical hit). */
  threshold: z.number().int().min(1).default(5),
  /** Per segment: its own mode and paranoia level. */
  segments: z.record(z.string(), z.strictObject({ mode: mode.optional(), paranoia: paranoia.optional() })).default({}),
  /** HTTP requests to the HTTPS listener (path, query, headers): block, log or off. */
  http: z.strictObject({ mode: mode.default('block') }).prefault({}),
  /** Per-topic payload rules: an MQTT filter with a size cap and/or a JSON Schema the payload must meet. */
  topics: z.array(z.strictObject({
    topic: z.string().min(1),
    maxBytes: z.number().int().positive().optional(),
    schema: z.record(z.string(), z.json()).optional(),
  })).default([]),
});

export type WafConfig = z.infer<typeof wafSchema>;
