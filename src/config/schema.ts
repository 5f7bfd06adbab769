/**
 * The one configuration schema (DESIGN.md §3, convention 7). Every default lives here and only
 * here; objects are strict so an unknown key stops the start with a line that names it.
 */
import { z } from 'zod';
import { replaySchema } from './replay.ts';
import { wafSchema } from './waf.ts';
import { anomalySchema } from './anomaly.ts';
import { dnsSchema } from './dns.ts';
import { bansSchema, connectionRateSchema, flappingSchema, httpTimeoutsSchema } from './admission.ts';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

const anonymous = z.strictObject({
  /** Segment given to clients that connect without credentials on this listener. */
  segment: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
});

/** Token buckets: messages/s and bytes/s with their bursts. */
const rateLimits = z.strictObject({
  messagesPerSecond: z.number().positive().default(500),
  messagesBurst: z.number().positive().default(1000),
  bytesPerSecond: z.number().positive().default(4 * 1024 * 1024),
  bytesBurst: z.number().positive().default(8 * 1024 * 1024),
});

export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./palisade-data'),
  /** Host names and addresses written into the server certificate. */
  hostnames: z.array(z.string().min(1)).default([]),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
  listeners: z.strictObject({
    mqtt: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port.default(1883),
      /** Plain TCP off loopback must be asked for explicitly. */
      allowPlaintext: z.boolean().default(false),
      /** Lets credential-less clients in as a segment; for local tools only, never the default. */
      anonymous: anonymous.nullable().default(null),
    }).prefault({}),
    mqtts: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('0.0.0.0'),
      port: port.default(8883),
      requireClientCert: z.boolean().default(true),
      /** How the MQTT client id must relate to the certificate's device id. */
      clientIdMatch: z.enum(['exact', 'prefix', 'any']).default('exact'),
    }).prefault({}),
    https: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('0.0.0.0'),
      port: port.default(8443),
      websocketPath: z.string().startsWith('/').default('/mqtt'),
      requireClientCert: z.boolean().default(false),
    }).prefault({}),
    /** CoAP over plain UDP (RFC 7252); no identity, so only an anonymous segment may use it (else 4.01). */
    coap: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port.default(5683),
      anonymous: anonymous.nullable().default(null),
      /** Datagrams per second from one source address; the excess is dropped. */
      maxDatagramsPerSecond: z.number().int().min(1).default(5000),
      /** Socket I/O: 'auto' = batched recvmmsg/sendmmsg (native/udp-batch) where built, else node:dgram. */
      io: z.enum(['auto', 'batched', 'node']).default('auto'),
    }).prefault({}),
    /** CoAP over DTLS 1.2 (RFC 7252 §9): devices prove who they are by PSK or certificate. */
    coaps: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('0.0.0.0'),
      port: port.default(5684),
    }).prefault({}),
    /** The DNS firewall (config/dns.ts, src/protocols/dns) on UDP and TCP; loopback until the operator widens it. */
    dns: z.strictObject({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port.default(5353),
      /** UDP socket I/O, as listeners.coap.io. */
      io: z.enum(['auto', 'batched', 'node']).default('auto'),
      /** DNS over HTTPS (RFC 8484) at /dns-query on the HTTPS listener. */
      doh: z.boolean().default(true),
    }).prefault({}),
  }).prefault({}),
  mqtt: z.strictObject({
    maxPacketSize: z.number().int().min(64).max(268_435_455).default(1_048_576),
    maxTopicLength: z.number().int().min(1).max(65_535).default(1024),
    maxTopicLevels: z.number().int().min(1).max(1024).default(32),
    /** Receive Maximum we announce: QoS 1/2 publishes a client may have unacknowledged to us. */
    receiveMaximum: z.number().int().min(1).max(65_535).default(64),
    /** Cap on QoS 1/2 messages we keep in flight to one client. */
    maxInflight: z.number().int().min(1).max(65_535).default(64),
    /** Offline/overflow queue per session; QoS 0 is dropped first when it fills. */
    maxQueuedMessages: z.number().int().min(1).default(1000),
    topicAliasMaximum: z.number().int().min(0).max(65_535).default(64),
    /** Filters one session may hold; more are refused with Quota exceeded. */
    maxSubscriptionsPerSession: z.number().int().min(1).default(256),
    /** Retained topics kept in all; a new one past this is refused with Quota exceeded. */
    maxRetainedMessages: z.number().int().min(0).default(100_000),
    /** Upper bound on the session expiry a client may ask for, seconds. */
    maxSessionExpiry: z.number().int().min(0).max(0xffff_ffff).default(7 * 24 * 3600),
    /** When set, overrides the client's keep alive (v5 Server Keep Alive). */
    serverKeepAlive: z.number().int().min(0).max(65_535).nullable().default(null),
    /** Clients asking for keep alive 0 or more than this get this value (v5 only). */
    maxKeepAlive: z.number().int().min(1).max(65_535).default(3600),
    preAuthTimeoutMs: z.number().int().min(100).default(10_000),
    /** A subscriber whose socket stays unwritable this long is disconnected. */
    drainTimeoutMs: z.number().int().min(100).default(10_000),
    /** Bytes buffered in the socket before we consider a client slow. */
    maxWriteBufferBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    retainAvailable: z.boolean().default(true),
    sysIntervalSeconds: z.number().int().min(0).default(10),
  }).prefault({}),
  shield: z.strictObject({
    /** Concurrent connections over all listeners. */
    maxConnections: z.number().int().min(1).default(100_000),
    /** Concurrent connections from one source address. */
    maxConnectionsPerAddress: z.number().int().min(1).default(1000),
    /** Brute-force protection: failed logins per key before a ban that doubles each time. */
    authThrottle: z.strictObject({
      addressThreshold: z.number().int().min(1).default(10),
      usernameThreshold: z.number().int().min(1).default(20),
      certificateThreshold: z.number().int().min(1).default(5),
      baseBanMs: z.number().int().min(1).default(1000),
      maxBanMs: z.number().int().min(1).default(3_600_000),
      windowMs: z.number().int().min(1).default(900_000),
    }).prefault({}),
    /** Admission (config/admission.ts): connection rates, the ban list, flapping, HTTPS slow-loris bounds. */
    connectionRate: connectionRateSchema.prefault({}),
    bans: bansSchema.prefault({}),
    flapping: flappingSchema.prefault({}),
    http: httpTimeoutsSchema.prefault({}),
    /** Replay protection for protected topics and commands (config/replay.ts, shield/replay). */
    replay: replaySchema.prefault({}),
    /**
     * Message rate limits (issue 5 point 2), per device and optionally per segment (all its
     * devices together); per-segment overrides in policy.segments.<name>.rateLimit. Defaults are
     * AWS IoT's per-connection publish limits ×5: an IoT device rarely needs more.
     */
    rateLimit: z.strictObject({
      enabled: z.boolean().default(true),
      device: rateLimits.prefault({}),
      segment: rateLimits.nullable().default(null),
      /** Over the limit this long without a break: MQTT disconnects with 0x96. */
      sustainedSeconds: z.number().min(0.1).default(10),
    }).prefault({}),
    /** WAF for device payloads and HTTP requests (src/shield/waf, config/waf.ts). */
    waf: wafSchema.prefault({}),
    /** Behavioural anomaly detection with mitigations (src/shield/anomaly, config/anomaly.ts). */
    anomaly: anomalySchema.prefault({}),
  }).prefault({}),
  secrets: z.strictObject({
    /** Master keyring file for secrets at rest (0600); null: DATA_DIR/master.key, created on first start. */
    masterKeyFile: z.string().min(1).nullable().default(null),
    /** Name of an environment variable holding the master key (base64) or keyring JSON instead of a file. */
    masterKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).nullable().default(null),
  }).prefault({}),
  pki: z.strictObject({
    /** Lifetime of device certificates issued by enrollment (CSR, EST, REST). */
    deviceCertDays: z.number().int().min(1).max(825).default(30),
    /** Days after expiry during which a device certificate may still re-enroll (EST simplereenroll). */
    reenrollGraceDays: z.number().int().min(0).max(365).default(7),
  }).prefault({}),
  events: z.strictObject({
    /** A signed checkpoint of the security event log after this many events... */
    checkpointEveryEvents: z.number().int().min(1).default(1000),
    /** ...or this many seconds, whichever comes first (and one at gateway stop). */
    checkpointEverySeconds: z.number().int().min(1).default(60),
  }).prefault({}),
  /** Push-pull queues (core/queues): bounds per queue, lease and redelivery. */
  queues: z.strictObject({
    maxMessages: z.number().int().min(1).default(10_000),
    maxBytes: z.number().int().min(1).default(64 * 1024 * 1024),
    maxMessageBytes: z.number().int().min(1).default(256 * 1024),
    /** How long a pulled message stays invisible before it is redelivered, unless acked. */
    visibilityTimeoutMs: z.number().int().min(100).default(30_000),
    /** Deliveries after which an unacknowledged message moves to `<name>.dlq`. */
    maxDeliveries: z.number().int().min(1).default(5),
    /** Longest HTTP long poll (`?wait=`). */
    maxWaitSeconds: z.number().int().min(0).max(300).default(30),
  }).prefault({}),
  /** Device shadows (core/shadows) and commands (core/commands). */
  shadows: z.strictObject({
    maxBytes: z.number().int().min(64).default(16 * 1024),
  }).prefault({}),
  commands: z.strictObject({
    defaultTimeoutMs: z.number().int().min(1).default(10_000),
    maxTimeoutMs: z.number().int().min(1).default(120_000),
  }).prefault({}),
  dns: dnsSchema.prefault({}),
  policy: z.strictObject({
    /**
     * Extra grants per segment, added to the built-in rule (publish and subscribe under
     * `<segment>/<device-id>/#`, subscribe to `<segment>/broadcast/#`). Variables:
     * `${device.id}`, `${device.segment}`. Replaced by the full policy language later.
     */
    segments: z.record(z.string(), z.strictObject({
      publish: z.array(z.string()).default([]),
      subscribe: z.array(z.string()).default([]),
      /** This segment's rate limits, instead of shield.rateLimit's. */
      rateLimit: z.strictObject({ device: rateLimits.optional(), segment: rateLimits.nullable().optional() }).optional(),
    })).default({}),
  }).prefault({}),
});

export type PalisadeConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
