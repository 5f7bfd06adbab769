/**
 * Issue 3, point 10: identity and zero-trust refusals with real handshakes. Each case drives a
 * real peer (openssl s_client, mosquitto_pub / mosquitto_sub, MQTT.js) against a real gateway
 * process and asserts both sides of the refusal: what the peer sees (exit code, CONNACK, PUBACK,
 * SUBACK, DISCONNECT) and the security event the gateway logged (read from its store).
 *
 *   expired certificate        -> TLS handshake refused          tls.handshake_failed
 *   certificate of another CA  -> TLS handshake refused          tls.handshake_failed
 *   revoked certificate        -> live session closed in < 1 s, cert.revoked_session_closed,
 *                                 reconnect refused              mqtt.connect_refused (CERT_REVOKED)
 *   spoofed client id          -> CONNACK 0x85 / 2               mqtt.connect_refused (CLIENT_ID_MISMATCH)
 *   cross-segment publish      -> PUBACK 0x87, not routed        mqtt.publish_denied
 *   quarantined device         -> status only                    mqtt.publish_denied / subscribe_denied
 *   moved into quarantine live -> subscription dropped in < 1 s   device.segment_changed, policy.subscription_revoked
 */
import type { IClientOptions } from 'mqtt';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, mosquittoPub, runCli, runTool, startSubscribed, type DeviceCredentials, type ToolResult } from './harness.ts';
import { close, closeAllClients, open, publish, quietFor, refused, subscribeCodes, subscribeOk, type Conn } from './mqtt-helpers.ts';
import { foreignCaCertificate, issueWithValidity, type CertFiles } from './pki-helpers.ts';
import { SecurityEvents } from './security-events.ts';

const DAY_MS = 86_400_000;

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { port: 0, host: '127.0.0.1' },
  },
  policy: {
    // Each plant may use its whole tree, and nothing of the other's.
    segments: {
      'plant-a': { publish: ['plant-a/#'], subscribe: ['plant-a/#'] },
      'plant-b': { publish: ['plant-b/#'], subscribe: ['plant-b/#'] },
    },
  },
  // Every peer here connects from 127.0.0.1, and several cases fail logins on purpose: keep the
  // per-address ban (tested in its own suite) from turning one case's refusals into the next one's.
  shield: { authThrottle: { addressThreshold: 1000 } },
};

let gw: Gateway;
let ev: SecurityEvents;
let host: string;
const dev: Record<string, DeviceCredentials> = {};

beforeAll(async () => {
  gw = await Gateway.start(CONFIG);
  for (const [name, segment] of [['sensor-a', 'plant-a'], ['sensor-b', 'plant-b'], ['sensor-old', 'plant-a'], ['sensor-r5', 'plant-a'], ['sensor-r4', 'plant-a'], ['quarantined-1', 'quarantine'], ['sensor-q', 'plant-a']] as const) {
    dev[name] = await gw.addDevice(name, segment);
  }
  ev = await SecurityEvents.open(gw.dataDir);
  // mosquitto checks the host name against the server certificate.
  host = new X509Certificate(await gw.readPem('server-cert.pem')).checkHost('localhost') ? 'localhost' : '127.0.0.1';
}, 180_000);

afterAll(async () => {
  await closeAllClients();
  await ev?.close();
  try {
    await gw?.dispose();
  } finally {
    await killAll();
  }
});

function d(name: string): DeviceCredentials {
  const c = dev[name];
  if (!c) throw new Error(`device ${name} not added`);
  return c;
}

function serialOf(c: DeviceCredentials): string {
  return new X509Certificate(c.cert).serialNumber.toLowerCase();
}

interface TlsFiles {
  certPath: string;
  keyPath: string;
}

function mosquittoTls(files: TlsFiles, caPath: string): string[] {
  return ['--cafile', caPath, '--cert', files.certPath, '--key', files.keyPath, '-h', host, '-p', String(gw.endpoint('mqtts').port)];
}

function mqttjs(c: DeviceCredentials, version: 4 | 5, extra: IClientOptions = {}): [string, IClientOptions] {
  const { host: h, port } = gw.endpoint('mqtts');
  return [`mqtts://${h}:${port}`, { protocolVersion: version, clientId: c.id, clean: true, ca: c.ca, cert: c.cert, key: c.key, servername: 'localhost', rejectUnauthorized: true, ...extra }];
}

/**
 * openssl s_client with stdin held open for a moment. A TLS 1.3 client finishes its side of the
 * handshake before the server has looked at the client certificate (RFC 8446 §4.4.2), so with
 * stdin closed at once s_client would exit 0 before the server's refusal arrives; held open, a
 * refused client sees the connection dropped and exits 1, an accepted one exits 0 at EOF.
 */
function sClient(files: TlsFiles, version: 'tls1_2' | 'tls1_3', holdSeconds = 1.5): Promise<ToolResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${gw.endpoint('mqtts').port}`, `-${version}`, '-servername', 'localhost', '-CAfile', gw.caPath, '-verify_return_error', '-brief', '-cert', files.certPath, '-key', files.keyPath];
  return runTool('sh', ['-c', `sleep ${holdSeconds} | openssl "$@"`, 'sh', ...args], { timeoutMs: 15_000 });
}

/** Asserts the peer saw a refused handshake and the gateway logged tls.handshake_failed for it. */
async function expectHandshakeRefused(r: ToolResult, version: 'tls1_2' | 'tls1_3', since: number, verdict: string): Promise<void> {
  expect(r.timedOut, explain(r)).toBe(false);
  expect(r.code, explain(r)).not.toBe(0);
  const out = r.stdout + r.stderr;
  // 1.2: the server's verdict comes inside the handshake. 1.3: after the client's Finished.
  if (version === 'tls1_2') expect(out, explain(r)).not.toMatch(/CONNECTION ESTABLISHED/);
  expect(out, explain(r)).not.toMatch(/^DONE$/m);
  const events = await ev.waitFor('tls.handshake_failed', since, (e) => e.detail['listener'] === 'mqtts');
  expect(events[0]!.severity).toBe('warning');
  expect(events[0]!.detail['error']).toBe(verdict);
  // The peer's address, even when it hung up before the event was written.
  expect(events[0]!.source).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
}

// -------------------------------------------------------------------------------------------------
// 1. Expired certificate, signed by Palisade's own issuing CA
// -------------------------------------------------------------------------------------------------

describe('an expired device certificate', () => {
  let expired: CertFiles;

  beforeAll(async () => {
    const old = d('sensor-old');
    expired = await issueWithValidity(gw.dataDir, join(gw.root, 'expired'), { id: old.id, segment: old.segment }, new Date(Date.now() - 40 * DAY_MS), new Date(Date.now() - 10 * DAY_MS));
  });

  it('is wrong only in its dates: it chains to ca.pem and openssl verify says expired', async () => {
    const r = await runTool('openssl', ['verify', '-CAfile', gw.caPath, expired.certPath], { timeoutMs: 10_000 });
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stdout + r.stderr, explain(r)).toMatch(/certificate has expired/);
    // The same device with its current certificate connects with the very same command.
    for (const version of ['tls1_2', 'tls1_3'] as const) {
      const ok = await sClient(d('sensor-old'), version);
      expect(ok.code, explain(ok)).toBe(0);
      expect(ok.stdout + ok.stderr, explain(ok)).toMatch(/CONNECTION ESTABLISHED/);
    }
  });

  for (const version of ['tls1_2', 'tls1_3'] as const) {
    it(`openssl s_client -${version}: handshake refused, tls.handshake_failed logged`, async () => {
      const since = await ev.mark();
      await expectHandshakeRefused(await sClient(expired, version), version, since, 'CERT_HAS_EXPIRED');
    });
  }

  for (const v of ['mqttv311', 'mqttv5'] as const) {
    it(`mosquitto_pub -V ${v}: no CONNACK, non-zero exit, tls.handshake_failed logged`, async () => {
      const since = await ev.mark();
      const r = await mosquittoPub(['-d', ...mosquittoTls(expired, gw.caPath), '-V', v, '-i', 'sensor-old', '-t', 'plant-a/sensor-old/t', '-m', '1']);
      expect(r.timedOut, explain(r)).toBe(false);
      expect(r.code, explain(r)).not.toBe(0);
      expect(r.stdout, explain(r)).not.toMatch(/received CONNACK/);
      await ev.waitFor('tls.handshake_failed', since, (e) => e.detail['listener'] === 'mqtts' && e.detail['error'] === 'CERT_HAS_EXPIRED');
      expect(await ev.list('mqtt.connected', since, (e) => e.principal === 'sensor-old')).toEqual([]);
    });
  }

  // Node reports the socket's hang-up (ECONNRESET) to tlsClientError; the listener takes the
  // verification verdict from socket.authorizationError, so the event says why.
  it('the tls.handshake_failed event names the verification error (CERT_HAS_EXPIRED)', async () => {
    const since = await ev.mark();
    await sClient(expired, 'tls1_2');
    const [e] = await ev.waitFor('tls.handshake_failed', since);
    expect(e!.detail['error']).toBe('CERT_HAS_EXPIRED');
  });
});

// -------------------------------------------------------------------------------------------------
// 2. A certificate from another CA that claims a real device's identity
// -------------------------------------------------------------------------------------------------

describe('a certificate from another CA', () => {
  let foreign: CertFiles & { caPath: string };

  beforeAll(async () => {
    foreign = await foreignCaCertificate(join(gw.root, 'foreign-ca'), d('sensor-a').id);
  });

  it('carries sensor-a\'s identity (SAN URI) but does not chain to ca.pem', async () => {
    expect(new X509Certificate(await readFile(foreign.certPath)).subjectAltName).toBe('URI:urn:palisade:device:sensor-a');
    const r = await runTool('openssl', ['verify', '-CAfile', gw.caPath, foreign.certPath], { timeoutMs: 10_000 });
    expect(r.code, explain(r)).not.toBe(0);
    const own = await runTool('openssl', ['verify', '-CAfile', foreign.caPath, foreign.certPath], { timeoutMs: 10_000 });
    expect(own.code, explain(own)).toBe(0);
  });

  for (const version of ['tls1_2', 'tls1_3'] as const) {
    it(`openssl s_client -${version}: handshake refused, tls.handshake_failed logged`, async () => {
      const since = await ev.mark();
      await expectHandshakeRefused(await sClient(foreign, version), version, since, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    });
  }

  for (const v of ['mqttv311', 'mqttv5'] as const) {
    it(`mosquitto_pub -V ${v} -i sensor-a: no CONNACK, non-zero exit, tls.handshake_failed logged`, async () => {
      const since = await ev.mark();
      const r = await mosquittoPub(['-d', ...mosquittoTls(foreign, gw.caPath), '-V', v, '-i', 'sensor-a', '-t', 'plant-a/sensor-a/t', '-m', 'forged']);
      expect(r.timedOut, explain(r)).toBe(false);
      expect(r.code, explain(r)).not.toBe(0);
      expect(r.stdout, explain(r)).not.toMatch(/received CONNACK/);
      await ev.waitFor('tls.handshake_failed', since, (e) => e.detail['listener'] === 'mqtts' && e.detail['error'] === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(await ev.list('mqtt.connected', since, (e) => e.principal === 'sensor-a')).toEqual([]);
    });
  }
});

// -------------------------------------------------------------------------------------------------
// 3. Revocation: live sessions closed within one second, new connections refused
// -------------------------------------------------------------------------------------------------

describe('a revoked certificate (`palisade cert revoke`)', () => {
  it('closes a live mosquitto_sub -V mqttv5 session within 1 s (DISCONNECT 0x98) and logs it', async () => {
    const c = d('sensor-r5');
    const serial = serialOf(c);
    const sub = await startSubscribed([...mosquittoTls(c, c.caPath), '-V', 'mqttv5', '-i', c.id, '-t', `plant-a/${c.id}/#`], 40_000);
    const since = await ev.mark();
    // Watch from before the CLI starts: the CLI's own start-up time is not part of the budget.
    const closedAt = sub.waitForOutput(/Received DISCONNECT \(152\)/, 30_000).then(() => Date.now());
    const rev = await runCli(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--data-dir', gw.dataDir]);
    expect(rev.code, explain(rev)).toBe(0);
    const seen = await closedAt;
    const revokedAt = (await ev.certificate(serial))?.revokedAt;
    expect(revokedAt, 'revocation time in the store').toBeTypeOf('number');
    // Client side: from the revocation being committed to mosquitto_sub reading the DISCONNECT.
    expect(seen - revokedAt!).toBeLessThan(1000);
    const [closed] = await ev.waitFor('cert.revoked_session_closed', since, (e) => e.principal === c.id);
    expect(closed!.severity).toBe('critical');
    expect(closed!.detail['certSerial']).toBe(serial);
    expect(closed!.ts - revokedAt!).toBeLessThan(1000);
    const [revoked] = await ev.waitFor('cert.revoked', since, (e) => e.detail['serial'] === serial);
    expect(revoked!.principal).toBe(c.id);
    expect(revoked!.detail['sessionsClosed']).toEqual([c.id]);
    const done = await sub.done;
    expect(done.timedOut, explain(done)).toBe(false);
  });

  it('closes a live mosquitto_sub -V mqttv311 session within 1 s; its reconnect is refused (CONNACK 5)', async () => {
    const c = d('sensor-r4');
    const serial = serialOf(c);
    const sub = await startSubscribed([...mosquittoTls(c, c.caPath), '-V', 'mqttv311', '-i', c.id, '-t', `plant-a/${c.id}/#`], 40_000);
    const since = await ev.mark();
    const rev = await runCli(['cert', 'revoke', serial, '--data-dir', gw.dataDir]);
    expect(rev.code, explain(rev)).toBe(0);
    const revokedAt = (await ev.certificate(serial))?.revokedAt;
    expect(revokedAt, 'revocation time in the store').toBeTypeOf('number');
    // 3.1.1 has no server DISCONNECT: the gateway's close is timed by its own event.
    const [closed] = await ev.waitFor('cert.revoked_session_closed', since, (e) => e.principal === c.id, 10_000);
    expect(closed!.ts - revokedAt!).toBeLessThan(1000);
    // libmosquitto reconnects on its own after the close, and that CONNECT is refused.
    const done = await sub.done;
    expect(done.timedOut, explain(done)).toBe(false);
    expect(done.stdout, explain(done)).toMatch(/received CONNACK \(5\)/);
    expect(done.code, explain(done)).toBe(5);
    const [refusal] = await ev.waitFor('mqtt.connect_refused', since, (e) => e.detail['code'] === 'PAL_ERR_CERT_REVOKED');
    expect(refusal!.detail['serial']).toBe(serial);
  });

  for (const [v, code] of [['mqttv5', 135], ['mqttv311', 5]] as const) {
    it(`refuses a new mosquitto_pub -V ${v} connection with the revoked certificate (exit ${code}) and logs CERT_REVOKED`, async () => {
      const c = d('sensor-r5');
      const since = await ev.mark();
      const r = await mosquittoPub([...mosquittoTls(c, c.caPath), '-V', v, '-i', c.id, '-t', `plant-a/${c.id}/t`, '-m', '1']);
      expect(r.timedOut, explain(r)).toBe(false);
      // The certificate still chains (no CRL at the handshake); the CONNECT is what is refused.
      expect(r.code, explain(r)).toBe(code);
      expect(r.stderr, explain(r)).toMatch(/not authori[sz]ed/i);
      const [e] = await ev.waitFor('mqtt.connect_refused', since, (x) => x.detail['serial'] === serialOf(c));
      expect(e!.detail['code']).toBe('PAL_ERR_CERT_REVOKED');
      expect(e!.detail['reasonCode']).toBe(code);
    });
  }
});

// -------------------------------------------------------------------------------------------------
// 4. Spoofed client id: sensor-a's certificate, sensor-b's client id
// -------------------------------------------------------------------------------------------------

describe('a spoofed client id (MQTT.js)', () => {
  for (const [version, code] of [[5, 0x85], [4, 0x02]] as const) {
    it(`v${version}: CONNACK ${code} (client identifier not valid), the real sensor-b is not taken over, event logged`, async () => {
      const real = await open(...mqttjs(d('sensor-b'), 5));
      const since = await ev.mark();
      const r = await refused(...mqttjs(d('sensor-a'), version, { clientId: 'sensor-b' }));
      expect(r.connack, `no CONNACK: ${r.error.message}`).toBeDefined();
      expect(r.error.code).toBe(code);
      const [e] = await ev.waitFor('mqtt.connect_refused', since, (x) => x.detail['code'] === 'PAL_ERR_AUTH_CLIENT_ID_MISMATCH');
      expect(e!.detail['clientId']).toBe('sensor-b');
      expect(e!.detail['deviceId']).toBe('sensor-a');
      expect(e!.detail['reasonCode']).toBe(code);
      // The impostor never got far enough to evict the real session.
      expect(real.isClosed()).toBe(false);
      expect(real.disconnects).toEqual([]);
      await close(real);
    });
  }
});

// -------------------------------------------------------------------------------------------------
// 5. Cross-segment publish: plant-a device on a plant-b topic
// -------------------------------------------------------------------------------------------------

describe('a cross-segment publish (MQTT.js v5)', () => {
  it('plant-a -> plant-b/...: PUBACK 0x87, not delivered, mqtt.publish_denied logged; its own tree still works', async () => {
    const b = await open(...mqttjs(d('sensor-b'), 5));
    await subscribeOk(b.client, 'plant-b/#', 1);
    const a = await open(...mqttjs(d('sensor-a'), 5));
    const since = await ev.mark();
    const topic = 'plant-b/sensor-b/cmd';
    const err = await publish(a.client, topic, 'open-valve', { qos: 1 }).then(() => undefined, (e: unknown) => e as Error & { code?: number });
    expect(err, 'cross-segment PUBLISH was acknowledged with success').toBeDefined();
    expect(err?.code).toBe(0x87);
    const [e] = await ev.waitFor('mqtt.publish_denied', since, (x) => x.principal === 'sensor-a');
    expect(e!.detail['topic']).toBe(topic);
    // Control: the same client publishing in its own segment is acknowledged with success.
    await publish(a.client, 'plant-a/sensor-a/telemetry', '21', { qos: 1 });
    // Nothing reached plant-b: a sentinel sent after the denied publish arrives, the publish does not.
    await publish(b.client, 'plant-b/sensor-b/sentinel', 'after', { qos: 1 });
    await b.inbox.waitForPayload('plant-b/sensor-b/sentinel', 'after');
    expect(await quietFor(b.inbox, (m) => m.topic === topic, 300)).toEqual([]);
    expect(await ev.list('mqtt.publish_denied', since, (x) => x.principal === 'sensor-a')).toHaveLength(1);
    await Promise.all([close(a), close(b)]);
  });

  it('plant-a subscribing to plant-b/#: SUBACK 0x87, mqtt.subscribe_denied logged', async () => {
    const a = await open(...mqttjs(d('sensor-a'), 5));
    const since = await ev.mark();
    expect(await subscribeCodes(a.client, { 'plant-b/#': { qos: 1 }, 'plant-a/#': { qos: 1 } })).toEqual([0x87, 1]);
    const [e] = await ev.waitFor('mqtt.subscribe_denied', since, (x) => x.principal === 'sensor-a');
    expect(e!.detail['filter']).toBe('plant-b/#');
    await close(a);
  });
});

// -------------------------------------------------------------------------------------------------
// 6. Quarantine: status and firmware only
// -------------------------------------------------------------------------------------------------

describe('a quarantined device (segment quarantine, MQTT.js v5)', () => {
  let q: Conn;

  beforeAll(async () => {
    q = await open(...mqttjs(d('quarantined-1'), 5));
  });

  afterAll(async () => {
    await close(q);
  });

  it('may publish its status topic', async () => {
    const sent = await publish(q.client, 'quarantine/quarantined-1/status', 'isolated', { qos: 1 });
    expect(sent?.cmd).toBe('publish');
  });

  it('is refused every other publish (PUBACK 0x87) with mqtt.publish_denied', async () => {
    const since = await ev.mark();
    for (const topic of ['quarantine/quarantined-1/telemetry', 'quarantine/sensor-a/status', 'plant-a/quarantined-1/telemetry']) {
      const err = await publish(q.client, topic, 'x', { qos: 1 }).then(() => undefined, (e: unknown) => e as Error & { code?: number });
      expect(err?.code, topic).toBe(0x87);
    }
    const denied = await ev.waitFor('mqtt.publish_denied', since, (x) => x.principal === 'quarantined-1', 5_000, 3);
    expect(denied.map((e) => e.detail['topic'])).toEqual(['quarantine/quarantined-1/telemetry', 'quarantine/sensor-a/status', 'plant-a/quarantined-1/telemetry']);
    expect(q.isClosed()).toBe(false);
  });

  it('may subscribe to nothing (SUBACK 0x87) and each refusal is logged', async () => {
    const since = await ev.mark();
    expect(await subscribeCodes(q.client, { 'quarantine/quarantined-1/#': { qos: 1 }, 'plant-a/#': { qos: 0 } })).toEqual([0x87, 0x87]);
    await ev.waitFor('mqtt.subscribe_denied', since, (x) => x.principal === 'quarantined-1', 5_000, 2);
  });
});

describe('`palisade device move <id> --segment quarantine` on a live session (MQTT.js v5)', () => {
  it('within 1 s: its plant-a subscription is dropped, only its status topic may be published, each step logged', async () => {
    const moved = d('sensor-q');
    const q = await open(...mqttjs(moved, 5));
    const a = await open(...mqttjs(d('sensor-a'), 5));
    await subscribeOk(q.client, 'plant-a/#', 1);
    await subscribeOk(a.client, 'plant-a/#', 1);
    // Before: sensor-q is an ordinary plant-a device, reading and writing its segment.
    await publish(a.client, 'plant-a/sensor-a/before', 'b', { qos: 1 });
    await q.inbox.waitForPayload('plant-a/sensor-a/before', 'b');
    await publish(q.client, 'plant-a/sensor-q/telemetry', 't', { qos: 1 });

    const since = await ev.mark();
    const mv = await runCli(['device', 'move', moved.id, '--segment', 'quarantine', '--data-dir', gw.dataDir]);
    expect(mv.code, explain(mv)).toBe(0);
    // The CLI logs the admin action after committing the move; the gateway logs when its live session followed.
    const [admin] = await ev.waitFor('admin.device_moved', since, (e) => e.detail['device'] === moved.id);
    const [changed] = await ev.waitFor('device.segment_changed', since, (e) => e.principal === moved.id);
    expect(changed!.detail).toMatchObject({ from: 'plant-a', to: 'quarantine' });
    expect(changed!.ts - admin!.ts).toBeLessThan(1000);
    const [dropped] = await ev.waitFor('policy.subscription_revoked', since, (e) => e.principal === moved.id);
    expect(dropped!.detail['filter']).toBe('plant-a/#');
    expect(dropped!.ts - admin!.ts).toBeLessThan(1000);
    expect(q.isClosed(), 'quarantine keeps the device connected (it may still report status)').toBe(false);

    // Its status report goes through; anything else, including its old own tree, is refused.
    await publish(q.client, 'quarantine/sensor-q/status', 'isolated', { qos: 1 });
    const afterMove = await ev.mark();
    const err = await publish(q.client, 'plant-a/sensor-q/telemetry', 't2', { qos: 1 }).then(() => undefined, (e: unknown) => e as Error & { code?: number });
    expect(err?.code).toBe(0x87);
    await ev.waitFor('mqtt.publish_denied', afterMove, (e) => e.principal === moved.id && e.detail['topic'] === 'plant-a/sensor-q/telemetry');
    // The dropped subscription delivers nothing: sensor-a's own copy is the sentinel that it was routed.
    await publish(a.client, 'plant-a/sensor-a/after', 'x', { qos: 1 });
    await a.inbox.waitForPayload('plant-a/sensor-a/after', 'x');
    expect(await quietFor(q.inbox, (m) => m.topic === 'plant-a/sensor-a/after', 300)).toEqual([]);
    // And it cannot subscribe its way back.
    expect(await subscribeCodes(q.client, { 'plant-a/#': { qos: 1 } })).toEqual([0x87]);
    await Promise.all([close(q), close(a)]);
  });
});
