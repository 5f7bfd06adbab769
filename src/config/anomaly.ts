/**
 * `shield.anomaly`: behavioural anomaly detection (issue 5, point 6; src/shield/anomaly).
 * Kept beside schema.ts because the behaviour list and its shipped defaults are long; every
 * default still lives here, in the one schema.
 */
import { z } from 'zod';

const METRIC = z.enum(['messageBytesMax', 'messageBytesTotal', 'messagesSent', 'messagesReceived', 'authorizationFailures', 'authenticationFailures', 'connectionAttempts', 'disconnects', 'sourceAddresses', 'topicFanout', 'dnsLookups', 'dnsNewNames', 'dnsNxdomainRate', 'dnsDgaMax', 'dnsDgaNames', 'dnsBlocked']);

const threshold = z.union([
  z.strictObject({ op: z.enum(['>', '>=', '<', '<=']), value: z.number() }),
  z.strictObject({
    baseline: z.literal('ewma'),
    alpha: z.number().gt(0).max(1).default(0.1),
    deviations: z.number().positive().default(6),
    minSamples: z.number().int().min(1).default(10),
    minDeviation: z.number().min(0).default(1),
    floor: z.number().min(0).default(0),
  }),
  z.strictObject({
    baseline: z.literal('percentile'),
    p: z.number().gt(0).max(100).default(99),
    factor: z.number().positive().default(3),
    minSamples: z.number().int().min(1).default(20),
    floor: z.number().min(0).default(0),
  }),
]);

const behaviour = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
    metric: METRIC,
    /** Segments it applies to; absent: every segment. */
    segments: z.array(z.string().min(1)).optional(),
    threshold,
    datapointsToAlarm: z.number().int().min(1).default(1),
    datapointsToClear: z.number().int().min(1).default(1),
    mitigations: z.array(z.enum(['alert', 'quarantine', 'revoke', 'ban'])).default(['alert']),
    /** What `ban` bans and for how long. */
    ban: z.strictObject({
      kinds: z.array(z.enum(['username', 'client-id', 'address', 'certificate'])).min(1).default(['username', 'client-id']),
      seconds: z.number().int().min(1).default(3600),
    }).optional(),
  })
  // A failed login only claims a name: anyone could get a real device quarantined or its
  // certificate revoked by failing logins under its name.
  .refine((b) => b.metric !== 'authenticationFailures' || !b.mitigations.some((m) => m === 'quarantine' || m === 'revoke'), {
    message: 'authenticationFailures behaviours may only alert or ban: the device name of a failed login is only claimed',
  });

/** Shipped behaviours, for 60 s windows. Only a flood of policy refusals quarantines by default. */
export const DEFAULT_BEHAVIOURS: readonly z.output<typeof behaviour>[] = [
  { name: 'authorization-failures', metric: 'authorizationFailures', threshold: { op: '>', value: 10 }, datapointsToAlarm: 2, datapointsToClear: 3, mitigations: ['alert', 'quarantine'] },
  { name: 'authentication-failures', metric: 'authenticationFailures', threshold: { op: '>', value: 20 }, datapointsToAlarm: 1, datapointsToClear: 3, mitigations: ['alert'] },
  { name: 'message-rate', metric: 'messagesSent', threshold: { baseline: 'ewma', alpha: 0.1, deviations: 6, minSamples: 10, minDeviation: 2, floor: 30 }, datapointsToAlarm: 2, datapointsToClear: 3, mitigations: ['alert'] },
  { name: 'topic-fanout', metric: 'topicFanout', threshold: { baseline: 'ewma', alpha: 0.1, deviations: 6, minSamples: 10, minDeviation: 1, floor: 10 }, datapointsToAlarm: 2, datapointsToClear: 3, mitigations: ['alert'] },
  { name: 'message-size', metric: 'messageBytesMax', threshold: { baseline: 'percentile', p: 99, factor: 4, minSamples: 20, floor: 4096 }, datapointsToAlarm: 1, datapointsToClear: 3, mitigations: ['alert'] },
  { name: 'connection-flapping', metric: 'connectionAttempts', threshold: { op: '>', value: 20 }, datapointsToAlarm: 2, datapointsToClear: 3, mitigations: ['alert'] },
  { name: 'source-address-changes', metric: 'sourceAddresses', threshold: { op: '>', value: 5 }, datapointsToAlarm: 2, datapointsToClear: 3, mitigations: ['alert'] },
  // Issue 6: three new algorithmically generated-looking names in one window (a bot walking its
  // DGA list); one such name alone is within the score's false positives (core/dns/telemetry/dga.ts).
  { name: 'dga-lookups', metric: 'dnsDgaNames', threshold: { op: '>=', value: 3 }, datapointsToAlarm: 1, datapointsToClear: 3, mitigations: ['alert'] },
];

export const anomalySchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Length of a window: one data point per device and metric each. */
  windowSeconds: z.number().positive().max(3600).default(60),
  /** A device silent this many windows is forgotten with its baselines. */
  forgetAfterWindows: z.number().int().min(1).default(1440),
  /** Devices tracked at most. */
  maxDevices: z.number().int().min(1).default(100_000),
  /** Distinct topics counted per device and window (topic fan-out saturates here). */
  maxTopicsPerWindow: z.number().int().min(1).default(1024),
  /** Alarms and clears on `$SYS/palisade/anomaly/<deviceId>`. */
  sysTopic: z.boolean().default(true),
  webhook: z.strictObject({
    /** POSTed JSON for every alarm and clear; null: none. */
    url: z.url({ protocol: /^https?$/ }).nullable().default(null),
    timeoutMs: z.number().int().min(1).default(5000),
    /** Requests in flight at most; beyond, notices are dropped (and counted in an event). */
    maxInFlight: z.number().int().min(1).default(16),
  }).prefault({}),
  behaviours: z.array(behaviour).default(() => DEFAULT_BEHAVIOURS.map((b) => structuredClone(b))),
});
