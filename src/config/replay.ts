/**
 * `shield.replay` (issue 5, point 5): which device topics need a replay counter or nonce, and
 * the window and persistence parameters (src/shield/replay/guard.ts, core/replay).
 */
import { z } from 'zod';

/** An MQTT topic filter: '+' a whole level, '#' only as the whole last level. */
const filter = z.string().min(1).max(1024).refine(
  (f) => f.split('/').every((level, i, all) => (level === '#' ? i === all.length - 1 : level === '+' || (!level.includes('+') && !level.includes('#')))),
  { message: 'not a valid MQTT topic filter' },
);

export const replaySchema = z.strictObject({
  /** Protected topics (MQTT filters); empty: none, and the guard steps aside. */
  topics: z.array(filter).default([]),
  /** Counters remembered below the highest seen (bitmap size). */
  window: z.number().int().min(1).max(4096).default(64),
  /** Nonce mode: timestamps accepted within ± this of the gateway's clock. */
  maxSkewSeconds: z.number().int().min(1).max(3600).default(30),
  /** The highest counter is written every this many counters and on clean stop; a crash skips this many ahead. */
  persistEvery: z.number().int().min(1).max(1_000_000).default(32),
  /** Nonce mode: nonces kept per device; past it the oldest goes and older timestamps are refused. */
  maxNoncesPerDevice: z.number().int().min(16).max(1_000_000).default(1024),
  /** Stamp a counter on every command sent to a device. */
  stampCommands: z.boolean().default(true),
  /** Per segment: its own protected topics instead of `topics`. */
  segments: z.record(z.string(), z.strictObject({ topics: z.array(filter).default([]) })).default({}),
});

export type ReplayConfig = z.infer<typeof replaySchema>;
