/**
 * What MQTT packet handlers may touch: a narrow view of the connection and of the gateway's
 * core services (DESIGN.md §4.4), instead of a god object they reach through.
 */
import type { Packet } from 'mqtt-packet';
import type { EventLog } from '../../core/events/event-log.ts';
import type { Authenticator, PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { Broker } from '../../core/messaging/broker.ts';
import type { Session } from '../../core/messaging/session.ts';
import type { CompiledPolicy, PolicyEngine } from '../../core/policy/minimal-policy.ts';
import type { Severity } from '../../core/ports.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import type { PreAuthGate } from '../../shield/bans/pre-auth-gate.ts';
import type { CommandService } from '../../core/commands/service.ts';
import type { QueueService } from '../../core/queues/service.ts';
import type { ShadowService } from '../../core/shadows/service.ts';

export interface MqttLimits {
  maxPacketSize: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  receiveMaximum: number;
  maxInflight: number;
  topicAliasMaximum: number;
  maxSubscriptionsPerSession: number;
  maxRetainedMessages: number;
  maxSessionExpiry: number;
  serverKeepAlive: number | null;
  maxKeepAlive: number;
  preAuthTimeoutMs: number;
  drainTimeoutMs: number;
  maxWriteBufferBytes: number;
  retainAvailable: boolean;
}

import type { MessageInspector } from '../../core/messaging/inspection.ts';

export interface MqttServices {
  broker: Broker;
  authenticator: Authenticator;
  policy: PolicyEngine;
  events: EventLog;
  throttle: AuthThrottle;
  /** Bans, connection rates and flapping before authentication (shield/bans); absent: caps only. */
  preAuth?: PreAuthGate;
  limits: MqttLimits;
  /** `$queue/`, `$shadow/` and `$command/` topics (protocols/mqtt/gateway-topics.ts); absent: those topics are plain topics. */
  /** shield.inspect (rate limits, WAF, schema, replay); absent: nothing is inspected. */
  inspector?: MessageInspector;
  queues?: QueueService;
  shadows?: ShadowService;
  commands?: CommandService;
}

export interface ListenerSettings {
  name: string;
  anonymousSegment: string | null;
  clientIdMatch: 'exact' | 'prefix' | 'any';
}

/** The connection as handlers see it. */
export interface HandlerContext {
  readonly services: MqttServices;
  readonly listener: ListenerSettings;
  readonly remote: string;
  /** The peer's IP address alone, for per-address decisions. */
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateIdentity | null;
  /** 3, 4 or 5 once CONNECT is read. */
  version: 3 | 4 | 5;
  session: Session | null;
  principal: DevicePrincipal | null;
  policy: CompiledPolicy | null;
  clientId: string;
  keepAliveSeconds: number;
  clientReceiveMaximum: number;
  clientMaxPacketSize: number;
  clientTopicAliasMaximum: number;
  readonly inboundAliases: Map<number, string>;
  /** QoS 1/2 publishes from the client not yet acknowledged (for Receive Maximum). */
  unackedInbound: number;
  send(packet: Packet): void;
  /** Sends a DISCONNECT with the reason (v5 only) and closes. */
  fail(reasonCode: number, why: string, severity?: Severity): void;
  record(type: string, severity: Severity, detail?: Record<string, unknown>): void;
}
