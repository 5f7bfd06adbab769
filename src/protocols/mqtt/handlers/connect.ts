/**
 * CONNECT (§3.1) as named steps, each of which may refuse (the pattern of Aedes'
 * connectActions): protocol checks, client id, authenticate, authorise, will, session, CONNACK.
 */
import { randomBytes } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { ErrorCodes, isPalisadeError } from '../../../core/errors.ts';
import type { AppMessage } from '../../../core/messaging/message.ts';
import type { WillMessage } from '../../../core/messaging/broker.ts';
import { validateTopicName } from '../../../core/messaging/topics.ts';
import { dropRevokedSubscriptions } from '../../../core/messaging/reauthorize.ts';
import { Actions } from '../../../core/policy/actions.ts';
import type { MqttConnection } from '../connection.ts';
import { fromWire } from '../properties.ts';
import { RC, V3, connackCodeFor } from '../reason-codes.ts';

/** A CONNECT refused with a wire code chosen here rather than mapped from a core error. */
class Refusal extends Error {
  readonly code: number;
  readonly why: string;
  readonly detail: Record<string, unknown>;
  constructor(code: number, why: string, detail: Record<string, unknown> = {}) {
    super(why);
    this.code = code;
    this.why = why;
    this.detail = detail;
  }
}

export async function handleConnect(conn: MqttConnection, p: IConnectPacket): Promise<void> {
  conn.version = p.protocolVersion ?? 4;
  try {
    checkProtocol(conn, p);
    const assigned = resolveClientId(conn, p);
    if (!preAuthCheck(conn, p)) return;
    await authenticate(conn, p);
    authorizeConnect(conn);
    const will = buildWill(conn, p);
    const expiry = sessionExpiry(conn, p);
    const keepAlive = negotiateKeepAlive(conn, p);
    readClientLimits(conn, p);
    if (conn.closed) return;
    await conn.services.broker.connect({
      clientId: conn.clientId,
      principal: conn.principal!,
      cleanStart: p.clean !== false,
      expiryInterval: expiry.granted,
      protocolVersion: conn.version,
      sink: conn,
      will,
      onAccepted: (session, sessionPresent) => {
        conn.session = session;
        sendConnack(conn, sessionPresent, assigned, expiry, keepAlive);
        conn.record('mqtt.connected', 'info', { authMethod: conn.principal?.authMethod, segment: conn.principal?.segment, version: conn.version, sessionPresent });
        // A resumed session keeps only what today's policy allows (it may have changed while offline).
        if (sessionPresent) {
          for (const d of dropRevokedSubscriptions(conn.services.broker, session, conn.policy!, { source: conn.remoteAddress })) {
            conn.record('policy.subscription_revoked', 'warning', { filter: d.filter, rule: d.decision.rule, cause: 'session resumed' });
          }
        }
      },
    });
    if (conn.closed) return;
    conn.accepted();
  } catch (err) {
    if (err instanceof Refusal) {
      conn.refuse(err.code, err.why, err.detail);
      return;
    }
    if (isPalisadeError(err)) {
      conn.refuse(connackCodeFor(err.code, conn.version), err.message, { code: err.code, ...(err.detail ?? {}) });
      return;
    }
    conn.record('mqtt.connect_error', 'critical', { error: err instanceof Error ? err.message : String(err) });
    conn.refuse(conn.version === 5 ? RC.UNSPECIFIED_ERROR : V3.SERVER_UNAVAILABLE, 'internal error');
  }
}

function checkProtocol(conn: MqttConnection, p: IConnectPacket): void {
  // [MQTT-3.1.2-1] the protocol name must match the level: MQIsdp is 3.1, MQTT is 3.1.1 and 5.
  if ((p.protocolId === 'MQIsdp') !== (conn.version === 3)) throw new Refusal(conn.version === 5 ? RC.UNSUPPORTED_PROTOCOL_VERSION : V3.UNACCEPTABLE_PROTOCOL, 'protocol name does not match level');
  // Enhanced authentication is not offered (§4.12): refuse rather than ignore it.
  if (conn.version === 5 && p.properties?.authenticationMethod !== undefined) throw new Refusal(RC.BAD_AUTH_METHOD, 'authentication method not supported');
}

function resolveClientId(conn: MqttConnection, p: IConnectPacket): boolean {
  const id = p.clientId ?? '';
  if (id.includes('\uFFFD') || id.includes('\u0000') || Buffer.byteLength(id) > 256) {
    throw new Refusal(conn.version === 5 ? RC.CLIENT_ID_NOT_VALID : V3.IDENTIFIER_REJECTED, 'client id not acceptable');
  }
  if (id.length > 0) {
    conn.clientId = id;
    return false;
  }
  // [MQTT-3.1.3-8] 3.1.1 may not resume a session without a client id.
  if (conn.version !== 5 && p.clean === false) throw new Refusal(V3.IDENTIFIER_REJECTED, 'empty client id with persistent session');
  // [MQTT-3.1.3-6] the server assigns one; an authenticated device gets its own id.
  conn.clientId = conn.peerCertificate?.deviceId ?? p.username ?? `auto-${randomBytes(9).toString('base64url')}`;
  return true;
}

/**
 * Bans by client id, username and certificate, and flapping detection (issue 5, point 1),
 * before the password is hashed. Refused with CONNACK 0x8A Banned (v5) or 5 Not authorized
 * (3.1.1); the gate records one rate-limited `shield.banned` or `shield.flapping` event, so no
 * per-refusal `mqtt.connect_refused` is written here.
 */
function preAuthCheck(conn: MqttConnection, p: IConnectPacket): boolean {
  const gate = conn.services.preAuth;
  if (!gate) return true;
  const verdict = gate.checkConnect({ address: conn.remoteAddress, clientId: p.clientId || null, username: p.username ?? conn.peerCertificate?.deviceId ?? null, certSerial: conn.peerCertificate?.serial ?? null }, conn.remote, conn.listener.name);
  if (verdict.allowed) return true;
  if (conn.version === 5) conn.send({ cmd: 'connack', sessionPresent: false, reasonCode: RC.BANNED });
  else conn.send({ cmd: 'connack', sessionPresent: false, returnCode: V3.NOT_AUTHORIZED });
  conn.close();
  return false;
}

async function authenticate(conn: MqttConnection, p: IConnectPacket): Promise<void> {
  const { throttle } = conn.services;
  const keys = { address: conn.remoteAddress, username: p.username ?? conn.peerCertificate?.deviceId ?? null, certSerial: conn.peerCertificate?.serial ?? null };
  // Decided before any hashing or store work (issue 3, point 4).
  const verdict = throttle.check(keys);
  if (!verdict.allowed) {
    conn.record('auth.throttled', 'warning', { key: verdict.key, retryAfterMs: verdict.retryAfterMs, username: keys.username });
    throw new Refusal(conn.version === 5 ? RC.BANNED : V3.NOT_AUTHORIZED, 'temporarily banned after failed logins', { key: verdict.key });
  }
  try {
    await authenticateNow(conn, p);
  } catch (err) {
    if (isPalisadeError(err) && FAILURES.has(err.code)) {
      const banned = throttle.failure(keys);
      if (banned.length > 0) conn.record('auth.banned', 'warning', { keys: banned, username: keys.username, certSerial: keys.certSerial });
    }
    throw err;
  }
  throttle.success(keys);
}

/** Failures that count towards a ban: wrong secrets, not a missing one or a disabled device. */
const FAILURES = new Set<string>([ErrorCodes.AUTH_FAILED, ErrorCodes.CERT_REVOKED, ErrorCodes.AUTH_CLIENT_ID_MISMATCH]);

async function authenticateNow(conn: MqttConnection, p: IConnectPacket): Promise<void> {
  conn.principal = await conn.services.authenticator.authenticate({
    clientId: conn.clientId,
    username: p.username ?? null,
    password: p.password ?? null,
    certificate: conn.peerCertificate,
    anonymousSegment: conn.listener.anonymousSegment,
    clientIdMatch: conn.listener.clientIdMatch,
  });
}

function authorizeConnect(conn: MqttConnection): void {
  conn.policy = conn.services.policy.compile(conn.principal!);
  const d = conn.policy.authorize(Actions.mqttConnect, conn.clientId, { source: conn.remoteAddress });
  if (!d.allowed) throw new Refusal(conn.version === 5 ? RC.NOT_AUTHORIZED : V3.NOT_AUTHORIZED, 'connect denied by policy', { rule: d.rule });
}

function buildWill(conn: MqttConnection, p: IConnectPacket): WillMessage | null {
  const w = p.will;
  if (!w) return null;
  const limits = conn.services.limits;
  try {
    validateTopicName(w.topic, limits);
  } catch {
    throw new Refusal(conn.version === 5 ? RC.TOPIC_NAME_INVALID : V3.NOT_AUTHORIZED, 'will topic invalid');
  }
  // [MQTT-3.2.2-14] a will retain flag the server cannot honour.
  if (w.retain && !limits.retainAvailable) throw new Refusal(conn.version === 5 ? RC.RETAIN_NOT_SUPPORTED : V3.NOT_AUTHORIZED, 'retain not supported');
  const d = conn.policy!.authorize(Actions.mqttPublish, w.topic, { source: conn.remoteAddress });
  if (!d.allowed) throw new Refusal(conn.version === 5 ? RC.NOT_AUTHORIZED : V3.NOT_AUTHORIZED, 'will topic denied by policy', { topic: w.topic, rule: d.rule });
  const props = w.properties;
  const message: AppMessage = {
    topic: w.topic,
    payload: Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload),
    qos: w.qos ?? 0,
    retain: w.retain ?? false,
    properties: fromWire(props),
    expiresAt: props?.messageExpiryInterval === undefined ? null : Date.now() + props.messageExpiryInterval * 1000,
    origin: conn.clientId,
  };
  return { message, delaySeconds: props?.willDelayInterval ?? 0 };
}

function sessionExpiry(conn: MqttConnection, p: IConnectPacket): { granted: number; changed: boolean } {
  const max = conn.services.limits.maxSessionExpiry;
  if (conn.version !== 5) return { granted: p.clean === false ? max : 0, changed: false };
  const asked = p.properties?.sessionExpiryInterval ?? 0;
  const granted = Math.min(asked, max);
  return { granted, changed: granted !== asked };
}

function negotiateKeepAlive(conn: MqttConnection, p: IConnectPacket): number | null {
  const limits = conn.services.limits;
  const asked = p.keepalive ?? 0;
  if (conn.version !== 5) {
    conn.keepAliveSeconds = asked;
    return null;
  }
  let granted = limits.serverKeepAlive ?? asked;
  if (granted === 0 || granted > limits.maxKeepAlive) granted = limits.maxKeepAlive;
  conn.keepAliveSeconds = granted;
  // [MQTT-3.2.2-21] the client must use the Server Keep Alive when one is sent.
  return granted === asked ? null : granted;
}

function readClientLimits(conn: MqttConnection, p: IConnectPacket): void {
  const props = p.properties;
  if (conn.version !== 5 || !props) return;
  if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) throw new Refusal(RC.PROTOCOL_ERROR, 'zero receive maximum or packet size');
  if (props.receiveMaximum !== undefined) conn.clientReceiveMaximum = props.receiveMaximum;
  if (props.maximumPacketSize !== undefined) conn.clientMaxPacketSize = props.maximumPacketSize;
  if (props.topicAliasMaximum !== undefined) conn.clientTopicAliasMaximum = props.topicAliasMaximum;
}

function sendConnack(conn: MqttConnection, sessionPresent: boolean, assigned: boolean, expiry: { granted: number; changed: boolean }, keepAlive: number | null): void {
  if (conn.version !== 5) {
    conn.send({ cmd: 'connack', sessionPresent, returnCode: V3.ACCEPTED });
    return;
  }
  const limits = conn.services.limits;
  const properties: NonNullable<IConnackPacket['properties']> = {
    receiveMaximum: limits.receiveMaximum,
    maximumPacketSize: limits.maxPacketSize,
    topicAliasMaximum: limits.topicAliasMaximum,
    retainAvailable: limits.retainAvailable,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  };
  if (assigned) properties.assignedClientIdentifier = conn.clientId;
  if (expiry.changed) properties.sessionExpiryInterval = expiry.granted;
  if (keepAlive !== null) properties.serverKeepAlive = keepAlive;
  conn.send({ cmd: 'connack', sessionPresent, reasonCode: RC.SUCCESS, properties });
}

