/**
 * The ports core needs from the outside world (DESIGN.md §2). Stores implement `Store`; every
 * implementation must pass test/contract/store-contract.ts. Methods are async so a networked
 * store (PostgreSQL) can implement the same interface as the embedded SQLite one.
 *
 * Binary payloads are Buffers; times are epoch milliseconds; `null` means "absent" in records.
 */

import type { EventCheckpoint, EventCheckpointInput } from './events/checkpoint.ts';
import type { PolicyAttachments, PolicyDocument } from './policy/document.ts';
import type { OperatorRepo, OperatorTokenRepo } from './operators/types.ts';
import type { EnrollmentRepo } from './enrollment/repo.ts';
import type { DevicePskRepo } from './psk/repo.ts';
import type { QueueRepo } from './queues/types.ts';
import type { ShadowRepo } from './shadows/types.ts';
import type { ReplayStateRepo } from './replay/types.ts';
import type { BanRepo } from './bans/types.ts';
import type { DnsQueryLogRepo } from './dns/query-log.ts';

export type { EventCheckpoint, EventCheckpointInput } from './events/checkpoint.ts';
export type { PolicyAttachments, PolicyDocument } from './policy/document.ts';
export type { Operator, OperatorRepo, OperatorToken, OperatorTokenRepo } from './operators/types.ts';
export type { EnrollmentRepo, EnrollmentTokenRecord } from './enrollment/repo.ts';
export type { DevicePskRecord, DevicePskRepo } from './psk/repo.ts';
export type { LeasedMessage, QueueBounds, QueueMessage, QueueRepo, QueueStats } from './queues/types.ts';
export type { ShadowRecord, ShadowRepo } from './shadows/types.ts';
export type { ReplayCounterRecord, ReplayStateRepo, ReplayStream } from './replay/types.ts';
export type { BanInput, BanKind, BanRecord, BanRepo } from './bans/types.ts';
export type { DnsNameCount, DnsQueryFilter, DnsQueryLogRepo, StoredDnsQuery } from './dns/query-log.ts';

export type DeviceStatus = 'active' | 'disabled';

export interface Device {
  id: string;
  segment: string;
  status: DeviceStatus;
  /** Free-form attributes used by policy variables (`${device.attr.NAME}`). */
  attrs: Record<string, string>;
  /** Argon2id/scrypt hash of the device password, for devices that cannot hold a certificate. */
  passwordHash: string | null;
  /**
   * Keyed fingerprint (HMAC-SHA256, core/identity/credential-fingerprint.ts) of the device
   * password, so devices sharing one credential can be found although hashes are salted.
   * Null or absent: no password, or one set before fingerprints existed. A patch that changes
   * passwordHash without giving this clears it.
   */
  credentialFingerprint?: string | null;
  createdAt: number;
}

export interface Segment {
  name: string;
  description: string;
  createdAt: number;
}

/** `bootstrap`: may only enroll its device (core/pki/enroll-bootstrap.ts). */
export type CertificateKind = 'root-ca' | 'issuing-ca' | 'server' | 'device' | 'bootstrap';

export interface CertificateRecord {
  /** Lower-case hex serial number, no separators. */
  serial: string;
  kind: CertificateKind;
  deviceId: string | null;
  subject: string;
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint of the DER, lower-case hex. */
  fingerprint: string;
  pem: string;
  revokedAt: number | null;
  revocationReason: string | null;
}

export interface SubscriptionOptions {
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | null;
}

export interface SubscriptionRecord extends SubscriptionOptions {
  clientId: string;
  /** The filter as the client sent it, including any `$share/<group>/` prefix. */
  filter: string;
}

export interface SessionRecord {
  clientId: string;
  /** Device id (or operator/anonymous principal key) that owns the session. */
  principalId: string;
  protocolVersion: 3 | 4 | 5;
  /** Seconds; 0xFFFFFFFF means never expires. */
  expiryInterval: number;
  /** When the client disconnected; null while connected. */
  disconnectedAt: number | null;
  createdAt: number;
}

/** MQTT 5 properties carried with an application message, kept as JSON-safe values. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  /** base64 */
  correlationData?: string;
  userProperties?: Array<[string, string]>;
}

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  properties: MessageProperties;
  /** Absolute expiry (message expiry interval), or null. */
  expiresAt: number | null;
  storedAt: number;
}

export type OutboundState = 'queued' | 'sent' | 'pubrel';

/** A message bound for one session: queued while offline, or in flight awaiting ack. */
export interface StoredMessage {
  clientId: string;
  /** Per-session sequence assigned by core; orders delivery; (clientId, seq) is the key. */
  seq: number;
  packetId: number | null;
  state: OutboundState;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MessageProperties;
  subscriptionIds: number[];
  expiresAt: number | null;
}

export type MessageWrite =
  | { kind: 'put'; message: StoredMessage }
  | { kind: 'delete'; clientId: string; seq: number }
  | { kind: 'qos2-in-add'; clientId: string; packetId: number }
  | { kind: 'qos2-in-remove'; clientId: string; packetId: number };

export type Severity = 'info' | 'warning' | 'critical';

export interface SecurityEventInput {
  ts: number;
  type: string;
  severity: Severity;
  /** Device or operator id, when known. */
  principal: string | null;
  /** Remote address "ip:port", when the event came from the network. */
  source: string | null;
  detail: Record<string, unknown>;
}

export interface SecurityEvent extends SecurityEventInput {
  id: number;
  /** Hash of the previous event (hex), forming a tamper-evident chain. */
  prevHash: string;
  hash: string;
}

export interface DeviceRepo {
  create(device: Device): Promise<void>;
  get(id: string): Promise<Device | null>;
  list(filter?: { segment?: string }): Promise<Device[]>;
  update(id: string, patch: Partial<Omit<Device, 'id' | 'createdAt'>>): Promise<void>;
  delete(id: string): Promise<boolean>;
  /** Devices whose credentialFingerprint equals `fingerprint`, by id. */
  listByCredentialFingerprint(fingerprint: string): Promise<Device[]>;
}

export interface SegmentRepo {
  upsert(segment: Segment): Promise<void>;
  get(name: string): Promise<Segment | null>;
  list(): Promise<Segment[]>;
}

export interface CertificateRepo {
  add(cert: CertificateRecord): Promise<void>;
  get(serial: string): Promise<CertificateRecord | null>;
  listByDevice(deviceId: string): Promise<CertificateRecord[]>;
  revoke(serial: string, at: number, reason: string): Promise<boolean>;
  listRevoked(): Promise<CertificateRecord[]>;
}

export interface SessionRepo {
  save(session: SessionRecord): Promise<void>;
  get(clientId: string): Promise<SessionRecord | null>;
  list(): Promise<SessionRecord[]>;
  /** Deletes the session with its subscriptions, stored messages and QoS 2 state. */
  delete(clientId: string): Promise<void>;
  setSubscription(sub: SubscriptionRecord): Promise<void>;
  removeSubscription(clientId: string, filter: string): Promise<void>;
  listSubscriptions(clientId: string): Promise<SubscriptionRecord[]>;
  listAllSubscriptions(): Promise<SubscriptionRecord[]>;
}

export interface RetainedRepo {
  set(message: RetainedMessage): Promise<void>;
  delete(topic: string): Promise<void>;
  get(topic: string): Promise<RetainedMessage | null>;
  list(): Promise<RetainedMessage[]>;
}

export interface MessageRepo {
  /** Applies all writes in one transaction, in order. */
  write(batch: readonly MessageWrite[]): Promise<void>;
  listForSession(clientId: string): Promise<StoredMessage[]>;
  listIncomingQos2(clientId: string): Promise<number[]>;
  /** Highest seq stored for the session, or 0. */
  maxSeq(clientId: string): Promise<number>;
}

/**
 * The security event log. The store chains each event (prevHash, hash = hashEvent from
 * core/events/event-hash.ts) to the last row actually stored, inside its write transaction,
 * so several writers (gateway, CLI, another process) on one database keep one chain.
 */
export interface EventRepo {
  append(event: SecurityEventInput): Promise<SecurityEvent>;
  list(filter?: { sinceId?: number; type?: string; limit?: number }): Promise<SecurityEvent[]>;
  last(): Promise<SecurityEvent | null>;
  /** Events with id <= upToId. */
  count(upToId: number): Promise<number>;
  /** Stores a signed checkpoint as given; the store assigns the id. */
  addCheckpoint(checkpoint: EventCheckpointInput): Promise<EventCheckpoint>;
  /** Every checkpoint, by id. */
  listCheckpoints(): Promise<EventCheckpoint[]>;
  lastCheckpoint(): Promise<EventCheckpoint | null>;
}

export interface PolicyTarget {
  kind: 'segment' | 'device';
  /** Segment name or device id. */
  id: string;
}

/**
 * Policy documents and where they are attached. Documents are validated by core
 * (parsePolicyDocument) before they reach the store, and come back as they were put.
 */
export interface PolicyRepo {
  /** Creates or replaces the document with this name; attachments are kept. */
  put(doc: PolicyDocument): Promise<void>;
  get(name: string): Promise<PolicyDocument | null>;
  /** Every document, by name. */
  list(): Promise<PolicyDocument[]>;
  /** Deletes the document and every attachment of it; false when there was none. */
  delete(name: string): Promise<boolean>;
  /** Idempotent; NOT_FOUND when no document has this name. */
  attach(target: PolicyTarget, policyName: string): Promise<void>;
  /** False when it was not attached. */
  detach(target: PolicyTarget, policyName: string): Promise<boolean>;
  /** Every attachment; each list of policy names sorted, targets without any absent. */
  attachments(): Promise<PolicyAttachments>;
}

export type ChangeKind = 'device' | 'policy';

/** One row of the change feed: something a running gateway must re-read (a device, a policy). */
export interface Change {
  seq: number;
  kind: ChangeKind;
  /** Device id or policy name. */
  key: string;
  at: number;
}

/**
 * The change feed. The store appends to it in the same transaction as every write to devices,
 * policies and attachments, whoever the writer is (gateway, CLI, admin API, another process),
 * so a running gateway learns of them by reading the feed from the last seq it saw.
 */
export interface ChangeRepo {
  /** Highest seq so far, or 0. */
  latest(): Promise<number>;
  /** Changes with seq greater than `after`, oldest first, at most `limit` (default 1000). */
  since(after: number, limit?: number): Promise<Change[]>;
  /** Deletes changes recorded before `before` (epoch ms); returns how many went. */
  prune(before: number): Promise<number>;
}

export interface Store {
  readonly devices: DeviceRepo;
  readonly segments: SegmentRepo;
  readonly certificates: CertificateRepo;
  readonly sessions: SessionRepo;
  readonly retained: RetainedRepo;
  readonly messages: MessageRepo;
  readonly events: EventRepo;
  readonly policies: PolicyRepo;
  readonly operators: OperatorRepo;
  readonly operatorTokens: OperatorTokenRepo;
  readonly enrollment: EnrollmentRepo;
  readonly devicePsks: DevicePskRepo;
  readonly changes: ChangeRepo;
  readonly queues: QueueRepo;
  readonly shadows: ShadowRepo;
  /** Replay protection counters (core/replay). */
  readonly replay: ReplayStateRepo;
  readonly bans: BanRepo;
  /** The DNS query log (core/dns/query-log.ts). */
  readonly dnsQueries: DnsQueryLogRepo;
  /** Current schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
