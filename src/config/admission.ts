/**
 * `shield.connectionRate`, `shield.bans`, `shield.flapping` and `shield.http` (issue 5, point 1):
 * connection rates at accept, the ban list, flapping detection and HTTPS slow-loris bounds
 * (src/shield/admission.ts, src/shield/bans, src/shield/flapping.ts).
 */
import { z } from 'zod';

/** Token buckets at accept, before TLS; 0 turns one off. */
export const connectionRateSchema = z.strictObject({
  perAddressPerSecond: z.number().min(0).default(100),
  perAddressBurst: z.number().int().min(1).default(200),
  globalPerSecond: z.number().min(0).default(2000),
  globalBurst: z.number().int().min(1).default(5000),
});

export const bansSchema = z.strictObject({
  /** How often the store is polled for bans written by other processes (the CLI, another gateway). */
  reloadMs: z.number().int().min(50).default(500),
  /** At most one `shield.banned` event per ban (and one refusal event per address and reason) this often. */
  eventIntervalMs: z.number().int().min(0).default(10_000),
  /**
   * Also drop banned addresses' SYNs in the kernel (a BPF socket filter on each TCP listener,
   * native/sock-filter), so a flood from a banned address never reaches Node. Bans are checked
   * at accept either way; false, or the addon not built, leaves only that check.
   */
  kernelFilter: z.boolean().default(true),
});

/** EMQX's defaults: more than 15 connects in 1 minute bans the key for 5 minutes. */
export const flappingSchema = z.strictObject({
  enabled: z.boolean().default(true),
  maxConnects: z.number().int().min(1).default(15),
  windowSeconds: z.number().int().min(1).default(60),
  banSeconds: z.number().int().min(1).default(300),
  /** Addresses or CIDR blocks never counted (local bridges and sidecars); [] counts every address. */
  exemptAddresses: z.array(z.string().min(1)).default(['127.0.0.1/32', '::1']),
});

/** Slow-loris bounds of the HTTPS listener (node's http server under fastify). */
export const httpTimeoutsSchema = z.strictObject({
  /** Whole request head received within this, from the connection's first byte. */
  headersTimeoutMs: z.number().int().min(100).default(10_000),
  /** Whole request (head and body) received within this. */
  requestTimeoutMs: z.number().int().min(100).default(30_000),
});
