/**
 * The composition root (DESIGN.md §2): the only module that wires store, core, shield and
 * protocol adapters together. Everything else receives what it needs.
 */
import { createShieldInspector } from './shield/from-config.ts';
import type { InspectionStep } from './shield/inspector.ts';
import { openReplayProtection } from './shield/replay/from-config.ts';
import { createHttpWafCheck } from './shield/waf/http-check.ts';
import { createTopicRulesStep, createWafStep } from './shield/waf/step.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PalisadeConfig } from './config/schema.ts';
import { EventLog } from './core/events/event-log.ts';
import { EventCheckpointer } from './core/events/checkpointer.ts';
import { Authenticator } from './core/identity/authenticator.ts';
import { withDeviceState, type DevicePrincipal } from './core/identity/principal.ts';
import { Broker } from './core/messaging/broker.ts';
import type { Session } from './core/messaging/session.ts';
import { DeviceMessaging } from './core/messaging/device-messaging.ts';
import { startCoapListeners, type CoapListeners } from './protocols/coap/listeners.ts';
import { deviceHttpApi } from './protocols/http/device-api.ts';
import { startSysTopics } from './core/messaging/sys-topics.ts';
import { ZeroTrustPolicyEngine } from './core/policy/index.ts';
import { ChangeWatcher } from './core/fleet/change-watcher.ts';
import { currentPolicyConfig, liveChangeHandlers } from './live-changes.ts';
import type { Store } from './core/ports.ts';
import type { MqttLimits } from './protocols/mqtt/context.ts';
import { startHttpsListener, startTcpListener, startTlsListener, type BoundListener } from './protocols/mqtt/listeners.ts';
import { MqttServer } from './protocols/mqtt/server.ts';
import { Admission } from './shield/admission.ts';
import { AuthThrottle } from './shield/auth-throttle.ts';
import { startAdmissionShield } from './shield/bans/from-config.ts';
import { banRoutes } from './protocols/http/ban-routes.ts';
import { KernelBanFilter } from './shield/kernel-filter/listener-filter.ts';
import { addressOf } from './shield/anomaly/window.ts';
import { createDnsFirewall, type DnsFirewall } from './dns-firewall.ts';
import { DeviceAuth } from './protocols/http/device-auth.ts';
import { startAnomalyDetection, type AnomalyDetection } from './shield/anomaly/start.ts';
import { openSecretBox } from './store/master-key.ts';
import { ensurePki } from './store/pki-files.ts';
import { RevocationWatcher } from './core/identity/revocation-watcher.ts';
import { CrlCache } from './core/pki/crl-cache.ts';
import { pkiRoutes } from './protocols/http/pki-routes.ts';
import { estRoutes } from './protocols/http/est-routes.ts';
import { mountHttpApp, type RouteGroup } from './protocols/http/app.ts';
import { ensureSetupSecret, setupSecretPort } from './store/setup-secret.ts';
import { adminApi } from './protocols/http/admin.ts';
import { shippedCredentialChecker } from './store/credential-lists.ts';
import { ensureEventSigningKey } from './store/event-signing-key.ts';
import { openSqliteStore } from './store/sqlite/sqlite-store.ts';
import { createExchanges, exchangeRoutes } from './exchanges.ts';
import { coapExchangeResources } from './protocols/coap/exchange-resources.ts';

export const VERSION = '0.1.0';
/** Default HTTP request body limit; JSON admin requests are small. */
const HTTP_BODY_LIMIT = 64 * 1024;

export interface Gateway {
  readonly dataDir: string;
  readonly store: Store;
  readonly broker: Broker;
  readonly events: EventLog;
  readonly mqtt: MqttServer;
  readonly listeners: Record<string, { host: string; port: number }>;
  /** The anomaly detector and its mitigations (shield.anomaly). */
  readonly anomaly: AnomalyDetection;
  /** The one-time admin setup secret, only on the first start. */
  readonly setupSecret: string | null;
  stop(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

export function defaultHostnames(): string[] {
  return ['localhost', '127.0.0.1', '::1', hostname()];
}

export async function startGateway(config: PalisadeConfig, logger: Logger): Promise<Gateway> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = openSecretBox(dataDir, config.secrets);
  const store = await openSqliteStore(join(dataDir, 'palisade.db'));
  const events = new EventLog(store.events);
  events.onEvent((e) => {
    const level = e.severity === 'critical' ? 'error' : e.severity === 'warning' ? 'warn' : 'debug';
    logger[level]({ event: e.type, principal: e.principal, source: e.source, ...e.detail }, e.type);
  });

  const hostnames = config.hostnames.length > 0 ? config.hostnames : defaultHostnames();
  const pki = await ensurePki(dataDir, hostnames, store, secrets);
  const eventSigner = ensureEventSigningKey(dataDir, secrets);
  const setupSecret = await ensureSetupSecret(dataDir);

  const limits: MqttLimits = { ...config.mqtt };
  // Deliveries are the anomaly detector's messages received; it is created below, once the broker exists.
  let delivered: ((session: Session) => void) | null = null;
  const broker = new Broker({
    store,
    maxQueuedMessages: config.mqtt.maxQueuedMessages,
    maxInflight: config.mqtt.maxInflight,
    maxTopicLength: config.mqtt.maxTopicLength,
    maxTopicLevels: config.mqtt.maxTopicLevels,
    maxRetainedMessages: config.mqtt.maxRetainedMessages,
    onStoreError: (err) => events.record('store.error', 'critical', { detail: { error: err instanceof Error ? err.message : String(err) } }),
    onSent: (session) => delivered?.(session),
  });
  await broker.load(async (principalId) => principalFor(store, principalId, config));

  const authenticator = new Authenticator(store);
  // The policy language: config grants become policies next to those stored with `palisade policy`.
  const policy = new ZeroTrustPolicyEngine(await currentPolicyConfig(store, config));
  // Bans (kept in the store, other processes' changes seen within reloadMs), rates, flapping (issue 5, point 1).
  const admitting = await startAdmissionShield(config, store, events);
  const admission = new Admission(config.shield, { bans: admitting.bans });
  const throttle = new AuthThrottle(config.shield.authThrottle);
  // Replay windows for protected topics, and the counter stamped on commands (issue 5, point 5).
  const replay = await openReplayProtection(config.shield.replay, store.replay, events);
  // Queues, shadows and commands (issue 4, points 4 and 5): MQTT $queue/ $shadow/ $command/ and HTTPS routes.
  const exchanges = createExchanges({ store, events, broker, config, commandCounter: replay.commandCounter });
  // Behavioural anomaly detection (issue 5, point 6): every passed message and security event, per device.
  const anomaly = startAnomalyDetection({ settings: config.shield.anomaly, events, store, broker, bans: admitting.bans, afterDeviceChange: () => changes.poll(), afterRevoke: () => revocations.poll() });
  delivered = anomaly.onDelivered;
  // shield.inspect for every protocol's messages (issue 5): rate limits, then the replay window
  // (it unwraps envelopes, so the WAF reads what will be routed), then the WAF.
  const steps: InspectionStep[] = replay.step ? [replay.step] : [];
  const topicRules = createTopicRulesStep(config.shield.waf.topics);
  if (topicRules) steps.push(topicRules);
  steps.push(createWafStep(config.shield.waf, events));
  // The DNS firewall (issue 6); its directory learns each device's address from passed messages and connects.
  let dnsFirewall: DnsFirewall | null = null;
  const inspector = createShieldInspector(config, events, {
    steps,
    onPassed: (m) => {
      anomaly.onPassed(m);
      dnsFirewall?.onPassed(m);
    },
  });
  const mqtt = new MqttServer({ broker, authenticator, policy, events, throttle, preAuth: admitting.preAuth, limits, inspector, queues: exchanges.queues, shadows: exchanges.shadows, commands: exchanges.commands }, admission);
  admitting.bans.onBan(() => mqtt.closeBanned(admitting.bans));
  const crl = new CrlCache(pki.ca, store);
  // HTTP and CoAP devices publish and subscribe through the same checks as MQTT (issue 4).
  const deviceMessaging = new DeviceMessaging({ broker, policy, events, inspector, limits: { maxTopicLength: config.mqtt.maxTopicLength, maxTopicLevels: config.mqtt.maxTopicLevels, maxPayloadSize: config.mqtt.maxPacketSize, retainAvailable: config.mqtt.retainAvailable, maxSubscriptionsPerDevice: config.mqtt.maxSubscriptionsPerSession } });
  // A new ban also ends HTTP (SSE) and CoAP (observe) subscriptions it matches, as it closes MQTT sessions.
  admitting.bans.onBan(() => deviceMessaging.closeBanned((ctx) => admitting.bans.match({ address: addressOf(ctx.source), username: ctx.principal.id, clientId: ctx.principal.id, certSerial: ctx.principal.certSerial })));
  // Revocation bites at once: live sessions with a revoked certificate are closed (issue 3, point 2).
  // Set once the CoAP listeners are up; revocations before that have no DTLS sessions to end.
  let coap: CoapListeners | null = null;
  const revocations = new RevocationWatcher(store.certificates, (records) => {
    crl.invalidate();
    const serials = new Set(records.map((r) => r.serial));
    const closed = [...mqtt.closeByCertificate(serials), ...deviceMessaging.closeByCertificate(serials)];
    const dtlsSessionsClosed = coap?.closeByCertificate(serials) ?? 0;
    for (const r of records) events.record('cert.revoked', 'critical', { principal: r.deviceId, detail: { serial: r.serial, reason: r.revocationReason, sessionsClosed: closed, dtlsSessionsClosed } });
  });
  await revocations.start();
  // Policies and devices changed by any process apply to live sessions (issue 3 points 6, 7).
  const changes = new ChangeWatcher(store.changes, liveChangeHandlers({ store, config, policy, broker, mqtt, events, deviceMessaging }));
  await changes.start();
  const tls = { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, caPem: pki.caChainPem };
  // A device id banned as a username or client id is refused over HTTPS too (device API, exchanges, DoH).
  const isBanned = (deviceId: string): boolean => admitting.bans.match({ username: deviceId, clientId: deviceId }) !== null;
  if (config.listeners.dns.enabled) {
    const dohAuth = new DeviceAuth({ authenticator, policy, throttle, events, messaging: deviceMessaging, isBanned });
    dnsFirewall = await createDnsFirewall({ config, store, events, logger, detector: config.shield.anomaly.enabled ? anomaly.detector : null, auth: dohAuth });
    const firewall = dnsFirewall;
    events.onRecord((e) => firewall.onEvent(e));
  }
  // Route groups of the HTTPS listener (protocols/http/app.ts); each is a fastify plugin.
  const httpRoutes: RouteGroup[] = [pkiRoutes({ caChainPem: pki.caChainPem, crl: () => crl.get() })];
  // Operators with enforced MFA (issue 3, point 5); no default account, the first admin comes from the setup secret.
  const credentialChecker = shippedCredentialChecker();
  const admin = adminApi({ store, events, secrets, throttle, setupSecret: setupSecretPort(dataDir), checkPassword: (username, password) => credentialChecker.assert({ username, secret: password }), afterRevoke: () => revocations.poll() });
  httpRoutes.push(...admin.routes);
  httpRoutes.push(banRoutes({ bans: admitting.bans, service: admin.service }));
  if (dnsFirewall) httpRoutes.push(...dnsFirewall.routes);
  // Enrollment: EST (RFC 7030) and POST /api/v1/enroll|reenroll (issue 3, point 1).
  httpRoutes.push(estRoutes({ ca: pki.ca, store, events, secrets, settings: config.pki, throttle }));
  // The HTTPS device API: publish, retained, SSE subscribe (issue 4, point 1).
  httpRoutes.push(deviceHttpApi({ messaging: deviceMessaging, authenticator, policy, throttle, events, isBanned, bodyLimit: config.mqtt.maxPacketSize, drainTimeoutMs: config.mqtt.drainTimeoutMs }));
  httpRoutes.push(...exchangeRoutes(exchanges, { authenticator, policy, throttle, events, messaging: deviceMessaging, operators: admin.service, config, isBanned }));

  const bound: BoundListener[] = [];
  const l = config.listeners;
  try {
    if (l.mqtt.enabled) {
      if (!isLoopback(l.mqtt.host) && !l.mqtt.allowPlaintext) {
        throw new Error(`config: listeners.mqtt.host ${l.mqtt.host} is not loopback; plaintext MQTT off loopback needs listeners.mqtt.allowPlaintext: true`);
      }
      if (!isLoopback(l.mqtt.host)) logger.warn({ host: l.mqtt.host }, 'plaintext MQTT listener bound off loopback: credentials cross the network in clear');
      bound.push(await startTcpListener(mqtt, { host: l.mqtt.host, port: l.mqtt.port, settings: { name: 'mqtt', anonymousSegment: l.mqtt.anonymous?.segment ?? null, clientIdMatch: 'exact' } }));
    }
    if (l.mqtts.enabled) {
      bound.push(await startTlsListener(mqtt, events, { host: l.mqtts.host, port: l.mqtts.port, settings: { name: 'mqtts', anonymousSegment: null, clientIdMatch: l.mqtts.clientIdMatch }, tls, requireClientCert: l.mqtts.requireClientCert, handshakeTimeoutMs: config.mqtt.preAuthTimeoutMs }));
    }
    if (l.https.enabled) {
      bound.push(await startHttpsListener(mqtt, events, { host: l.https.host, port: l.https.port, websocketPath: l.https.websocketPath, settings: { name: 'https', anonymousSegment: null, clientIdMatch: l.mqtts.clientIdMatch }, tls, maxPacketSize: config.mqtt.maxPacketSize, requireClientCert: l.https.requireClientCert, handshakeTimeoutMs: config.mqtt.preAuthTimeoutMs, headersTimeoutMs: config.shield.http.headersTimeoutMs, requestTimeoutMs: config.shield.http.requestTimeoutMs, ...(dnsFirewall?.h2Only ? { h2Only: dnsFirewall.h2Only } : {}), mount: (server) => mountHttpApp(server, { bodyLimit: HTTP_BODY_LIMIT, routes: httpRoutes, version: VERSION, blockRequest: createHttpWafCheck(config.shield.waf, events), onServerError: (err) => events.record('http.error', 'critical', { detail: { error: err instanceof Error ? err.message : String(err) } }) }) }));
    }
    coap = await startCoapListeners({ messaging: deviceMessaging, policy, events, banned: (address) => admitting.bans.match({ address }) !== null, resources: coapExchangeResources(exchanges), dtls: { store, secrets, cert: tls } }, l);
    bound.push(...coap.bound);
    if (dnsFirewall) bound.push(await dnsFirewall.listen());
    if (coap.udpIo === 'node' && l.coap.io === 'auto') logger.info('CoAP over UDP uses node:dgram: the batched I/O addon is not built here (scripts/build-native.sh needs a C compiler and Node headers)');
  } catch (err) {
    for (const b of bound) await b.close();
    await dnsFirewall?.stop();
    mqtt.shutdown();
    admitting.stop();
    await store.close();
    throw err;
  }

  // Banned addresses' SYNs dropped in the kernel too (issue 5, point 8): a flood from a banned
  // address then costs Node nothing. Accept still checks, so this only ever saves work.
  const kernelFilter = config.shield.bans.kernelFilter ? new KernelBanFilter({ bans: admitting.bans, onError: (err) => logger.warn({ err }, 'kernel ban filter not applied') }) : null;
  if (kernelFilter?.available === true) {
    for (const b of bound) if (b.server) kernelFilter.attach(b.server);
    kernelFilter.start();
  } else if (kernelFilter) logger.info('banned addresses are refused at accept only: the sock-filter addon is not built here (scripts/build-native.sh)');

  const listeners: Record<string, { host: string; port: number }> = {};
  for (const b of bound) listeners[b.name] = { host: b.host, port: b.port };
  writeFileSync(join(dataDir, 'ports.json'), `${JSON.stringify(listeners, null, 2)}\n`);

  const stopSys = startSysTopics({ broker, version: VERSION, startedAt: Date.now(), connections: () => mqtt.connectionCount }, config.mqtt.sysIntervalSeconds);
  events.record('gateway.started', 'info', { detail: { listeners, version: VERSION } });
  // Signed checkpoints of the event log (issue 3, point 9); each is logged so a log shipper can witness it.
  const checkpoints = new EventCheckpointer(store.events, events, eventSigner, {
    everyEvents: config.events.checkpointEveryEvents,
    everyMs: config.events.checkpointEverySeconds * 1000,
    onCheckpoint: (cp) => logger.info({ checkpoint: cp.id, lastEventId: cp.lastEventId, lastHash: cp.lastHash, keyId: cp.keyId }, 'event log checkpoint'),
    onError: (err) => logger.error({ err }, 'event log checkpoint failed'),
  });
  checkpoints.start();

  let stopped = false;
  return {
    dataDir,
    store,
    broker,
    events,
    mqtt,
    listeners,
    anomaly,
    setupSecret,
    async stop() {
      if (stopped) return;
      stopped = true;
      stopSys();
      revocations.stop();
      kernelFilter?.stop();
      admitting.stop();
      changes.stop();
      deviceMessaging.stop();
      exchanges.stop();
      mqtt.shutdown();
      await replay.flush();
      await anomaly.stop();
      await Promise.all(bound.map((b) => b.close()));
      await dnsFirewall?.stop();
      await broker.close();
      events.record('gateway.stopped', 'info');
      await events.flush();
      await checkpoints.stop();
      await store.close();
    },
  };
}

/** Rebuilds the principal of a stored session after a restart; null when the device is gone. */
async function principalFor(store: Store, principalId: string, config: PalisadeConfig): Promise<DevicePrincipal | null> {
  const device = await store.devices.get(principalId);
  if (device) {
    if (device.status !== 'active') return null;
    return withDeviceState({ kind: 'device', id: device.id, segment: device.segment, authMethod: device.passwordHash ? 'password' : 'certificate', attrs: device.attrs, certSerial: null, certCommonName: null }, device);
  }
  const anon = config.listeners.mqtt.anonymous;
  if (anon) return { kind: 'device', id: principalId, segment: anon.segment, authMethod: 'anonymous', attrs: {}, certSerial: null, certCommonName: null };
  return null;
}
