/**
 * Behavioural anomaly detection (issue 5, point 6), modelled on AWS IoT Device Defender's
 * cloud-side metrics and "behaviors": each device's activity is counted over fixed windows,
 * every closed window is one data point per metric, and a behaviour compares that data point
 * with a static threshold or a baseline learned from the device's own past. A behaviour alarms
 * after `datapointsToAlarm` consecutive breaching data points and clears after
 * `datapointsToClear` consecutive normal ones (Device Defender's consecutiveDatapointsToAlarm /
 * consecutiveDatapointsToClear), and its mitigations run once, on the transition to alarm.
 */

/** The per-window metrics (Device Defender's cloud-side set, plus topic fan-out and DNS lookups). */
export const METRICS = [
  /** Largest message in the window, in bytes (aws:message-byte-size). */
  'messageBytesMax',
  /** Sum of message sizes in the window. */
  'messageBytesTotal',
  /** Messages the device sent that passed policy and the shield (aws:num-messages-sent). */
  'messagesSent',
  /** Messages delivered to the device (aws:num-messages-received). */
  'messagesReceived',
  /** Publishes, subscribes and requests refused by policy (aws:num-authorization-failures). */
  'authorizationFailures',
  /** Refused logins under this device's name; the name is only claimed, so never quarantined on. */
  'authenticationFailures',
  /** Connections accepted or refused (aws:num-connection-attempts). */
  'connectionAttempts',
  /** Disconnections the gateway recorded (aws:num-disconnects). */
  'disconnects',
  /** Distinct source addresses seen in the window (aws:source-ip-address, as a count of changes). */
  'sourceAddresses',
  /** Distinct topics published to in the window. */
  'topicFanout',
  /** DNS lookups the DNS firewall saw from the device (fed by recordDnsQuery). */
  'dnsLookups',
  /** Registrable names the device had not asked for before (core/dns/telemetry). */
  'dnsNewNames',
  /** Share of the window's lookups answered NXDOMAIN (upstream, not blocks), 0 under 10 lookups. */
  'dnsNxdomainRate',
  /** Highest DGA score (0..1) of a name looked up in the window. */
  'dnsDgaMax',
  /** New names whose DGA score reached DGA_THRESHOLD. */
  'dnsDgaNames',
  /** Lookups the DNS firewall blocked. */
  'dnsBlocked',
] as const;

export type MetricName = (typeof METRICS)[number];

export type Mitigation = 'alert' | 'quarantine' | 'revoke' | 'ban';

export type StaticThreshold = { op: '>' | '>=' | '<' | '<='; value: number };

/**
 * A learned baseline: the data point breaches when it exceeds
 * max(floor, mean + deviations * max(meanAbsoluteDeviation, minDeviation)).
 */
export interface EwmaThreshold {
  baseline: 'ewma';
  /** Weight of the newest data point (0 < alpha <= 1). */
  alpha: number;
  deviations: number;
  /** Data points learned before the baseline may alarm. */
  minSamples: number;
  /** A deviation never narrower than this: a perfectly steady device would otherwise alarm on +1. */
  minDeviation: number;
  /** Never breaches at or below this value. */
  floor: number;
}

/** The data point breaches when it exceeds max(floor, factor * the p-th percentile of past points). */
export interface PercentileThreshold {
  baseline: 'percentile';
  /** Percentile, 0 < p <= 100. */
  p: number;
  factor: number;
  minSamples: number;
  floor: number;
}

export type Threshold = StaticThreshold | EwmaThreshold | PercentileThreshold;

export type BanKeyKind = 'username' | 'client-id' | 'address' | 'certificate';

export interface Behaviour {
  name: string;
  metric: MetricName;
  /** Segments it applies to; absent or empty: every segment. */
  segments?: string[] | undefined;
  threshold: Threshold;
  datapointsToAlarm: number;
  datapointsToClear: number;
  mitigations: Mitigation[];
  /** What `ban` bans: the device's id as username and client id by default, for this long. */
  ban?: { kinds: BanKeyKind[]; seconds: number } | undefined;
}

export interface AnomalySettings {
  enabled: boolean;
  windowSeconds: number;
  /** A device silent for this many windows is forgotten (its baselines with it). */
  forgetAfterWindows: number;
  /** Devices tracked at most; beyond, the longest-silent ones make room. */
  maxDevices: number;
  /** Distinct topics remembered per device and window; fan-out counts up to this. */
  maxTopicsPerWindow: number;
  /** Publish alarms and clears on `$SYS/palisade/anomaly/<deviceId>`. */
  sysTopic: boolean;
  webhook: { url: string | null; timeoutMs: number; maxInFlight: number };
  behaviours: Behaviour[];
}

/** A (device, behaviour) pair changed state at the end of a window. */
export interface AnomalyNotice {
  kind: 'alarm' | 'cleared';
  deviceId: string;
  segment: string | null;
  behaviour: Behaviour;
  metric: MetricName;
  /** The data point of the window that decided, and the threshold it was compared with. */
  value: number;
  threshold: number;
  /** Sequence number of the window that decided (0 is the first window after start). */
  window: number;
  windowEnd: number;
  /** Last source address seen for the device, if any. */
  address: string | null;
  /** Why a clear happened: `datapoints` (normal again) or `segment` (the behaviour no longer applies). */
  cause?: 'datapoints' | 'segment';
}

export interface AnomalySink {
  notify(notice: AnomalyNotice): void;
}
