/**
 * MQTT.js 5 (as an MQTT 3.1.1 and an MQTT 5.0 client) against a real Palisade gateway process
 * over TCP (device password), TLS (device certificate) and WebSocket over TLS.
 */
import type { IClientOptions, IPublishPacket } from 'mqtt';
import { generate } from 'mqtt-packet';
import { randomUUID } from 'node:crypto';
import { connect as connectSocket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, runTool, waitUntil, withTimeout, type DeviceCredentials } from './harness.ts';
import WebSocket from 'ws';
import { ackOf, close, closeAllClients, RawClient, crash, open, publish, quietFor, refused, subscribeCodes, subscribeOk, type Conn } from './mqtt-helpers.ts';

type Version = 4 | 5;
type Transport = 'tcp' | 'tls' | 'wss';

const SETUP_MS = 180_000;

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { port: 0, host: '127.0.0.1' },
  },
  mqtt: { sysIntervalSeconds: 1 },
  policy: {
    segments: {
      lab: { publish: ['lab/#'], subscribe: ['lab/#', '$SYS/#'] },
      // A wide reader, used to prove a denied publish was not routed anywhere.
      ops: { subscribe: ['#'] },
    },
  },
};

/** Connection options for a device over a transport; ports are read at call time (restart moves them). */
function target(gw: Gateway, dev: DeviceCredentials, transport: Transport, version: Version, extra: IClientOptions = {}): [string, IClientOptions] {
  const base: IClientOptions = { protocolVersion: version, clientId: dev.id, clean: true, ...extra };
  if (transport === 'tcp') {
    const { host, port } = gw.endpoint('mqtt');
    return [`mqtt://${host}:${port}`, { username: dev.id, password: dev.password, ...base }];
  }
  if (transport === 'tls') {
    const { host, port } = gw.endpoint('mqtts');
    return [`mqtts://${host}:${port}`, { ca: dev.ca, cert: dev.cert, key: dev.key, servername: 'localhost', rejectUnauthorized: true, ...base }];
  }
  const { host, port } = gw.endpoint('https');
  return [`wss://${host}:${port}/mqtt`, { ca: dev.ca, username: dev.id, password: dev.password, rejectUnauthorized: true, ...base }];
}

function connectCode(c: Conn): number | undefined {
  return c.connack.reasonCode ?? c.connack.returnCode;
}

function uniq(): string {
  return randomUUID().slice(0, 8);
}

let gw: Gateway;
const dev: Record<string, DeviceCredentials> = {};

beforeAll(async () => {
  gw = await Gateway.start(CONFIG);
  const lab = ['tcp4', 'tcp5', 'tls4', 'tls5', 'wss4', 'wss5', 'alice', 'bob', 'carol', 'share1', 'share2', 'persist4', 'persist5', 'taken', 'rawpub'];
  for (const name of lab) dev[name] = await gw.addDevice(name, 'lab', { password: true });
  dev['ops'] = await gw.addDevice('ops', 'ops', { password: true });
  dev['mallory'] = await gw.addDevice('mallory', 'guest', { password: true });
}, SETUP_MS);

afterAll(async () => {
  await closeAllClients();
  try {
    if (gw) {
      const exit = await gw.stop();
      if (exit.code !== 0 || exit.killed) console.error(`gateway stop: ${JSON.stringify(exit)}\n${gw.stderr}`);
      await gw.dispose();
    }
  } finally {
    await killAll();
  }
});

describe.each([
  { transport: 'tcp', version: 4, name: 'tcp4' },
  { transport: 'tcp', version: 5, name: 'tcp5' },
  { transport: 'tls', version: 4, name: 'tls4' },
  { transport: 'tls', version: 5, name: 'tls5' },
  { transport: 'wss', version: 4, name: 'wss4' },
  { transport: 'wss', version: 5, name: 'wss5' },
] as const)('MQTT.js v$version over $transport', ({ transport, version, name }) => {
  it('connects with a clean session, subscribes and round-trips QoS 0, 1 and 2', async () => {
    const d = dev[name]!;
    const c = await open(...target(gw, d, transport, version));
    expect(connectCode(c)).toBe(0);
    expect(c.connack.sessionPresent).toBe(false);
    const base = `lab/${d.id}/rt/${uniq()}`;
    expect(await subscribeOk(c.client, `${base}/+`, 2)).toEqual([2]);
    for (const qos of [0, 1, 2] as const) {
      const sent = await publish(c.client, `${base}/q${qos}`, `hello-${qos}`, { qos });
      if (qos > 0) {
        const ack = ackOf(c, sent);
        expect(ack?.cmd).toBe(qos === 1 ? 'puback' : 'pubcomp');
        if (version === 5 && ack && 'reasonCode' in ack) expect(ack.reasonCode ?? 0).toBe(0);
      }
      const m = await c.inbox.waitForPayload(`${base}/q${qos}`, `hello-${qos}`);
      expect(m.packet.qos).toBe(qos);
      expect(m.packet.retain).toBe(false);
    }
    await close(c);
  });

  it('delivers at the lower of the publish and subscription QoS', async () => {
    const d = dev[name]!;
    const c = await open(...target(gw, d, transport, version));
    const base = `lab/${d.id}/down/${uniq()}`;
    expect(await subscribeOk(c.client, { [`${base}/sub0`]: { qos: 0 }, [`${base}/sub1`]: { qos: 1 } })).toEqual([0, 1]);
    await publish(c.client, `${base}/sub0`, 'a', { qos: 2 });
    await publish(c.client, `${base}/sub1`, 'b', { qos: 2 });
    expect((await c.inbox.waitForPayload(`${base}/sub0`, 'a')).packet.qos).toBe(0);
    expect((await c.inbox.waitForPayload(`${base}/sub1`, 'b')).packet.qos).toBe(1);
    await close(c);
  });
});

describe('across transports and protocol versions', () => {
  it('a QoS 1 message published over TCP v5 reaches subscribers over TLS v3.1.1 and WSS v5', async () => {
    const topic = `lab/shared-room/${uniq()}`;
    const tlsSub = await open(...target(gw, dev['tls4']!, 'tls', 4));
    const wssSub = await open(...target(gw, dev['wss5']!, 'wss', 5));
    await subscribeOk(tlsSub.client, topic, 1);
    await subscribeOk(wssSub.client, topic, 1);
    const pub = await open(...target(gw, dev['tcp5']!, 'tcp', 5));
    await publish(pub.client, topic, 'cross', { qos: 1 });
    expect((await tlsSub.inbox.waitForPayload(topic, 'cross')).packet.qos).toBe(1);
    expect((await wssSub.inbox.waitForPayload(topic, 'cross')).packet.qos).toBe(1);
    await Promise.all([close(tlsSub), close(wssSub), close(pub)]);
  });
});

describe('WebSocket endpoint', () => {
  function upgrade(path: string, protocols: string[]): Promise<{ protocol?: string; status?: number; error?: string }> {
    const { host, port } = gw.endpoint('https');
    const ws = new WebSocket(`wss://${host}:${port}${path}`, protocols, { ca: dev['alice']!.ca, rejectUnauthorized: true });
    const outcome = new Promise<{ protocol?: string; status?: number; error?: string }>((res) => {
      ws.once('open', () => res({ protocol: ws.protocol }));
      ws.once('unexpected-response', (_req, resp) => res({ status: resp.statusCode }));
      ws.once('error', (err) => res({ error: err.message }));
    });
    return withTimeout(outcome, 5_000, `WebSocket upgrade on ${path}`).finally(() => ws.terminate());
  }

  it('upgrades on /mqtt and selects the mqtt subprotocol', async () => {
    expect(await upgrade('/mqtt', ['mqtt'])).toEqual({ protocol: 'mqtt' });
  });

  it('does not upgrade on another path', async () => {
    const r = await upgrade('/not-mqtt', ['mqtt']);
    expect(r.protocol, JSON.stringify(r)).toBeUndefined();
  });
});

describe('authentication refusals', () => {
  for (const [version, code] of [[5, 0x86], [4, 0x04]] as const) {
    it(`v${version}: a wrong password is refused with CONNACK ${code}`, async () => {
      const d = dev['alice']!;
      const [url, opts] = target(gw, d, 'tcp', version, { password: `${d.password!}x` });
      const r = await refused(url, opts);
      expect(r.connack, `no CONNACK: ${r.error.message}`).toBeDefined();
      expect(r.error.code).toBe(code);
    });
  }

  for (const [version, code] of [[5, 0x87], [4, 0x05]] as const) {
    it(`v${version}: no credentials on a listener without anonymous is refused with CONNACK ${code}`, async () => {
      const { host, port } = gw.endpoint('mqtt');
      const r = await refused(`mqtt://${host}:${port}`, { protocolVersion: version, clientId: `nobody-${uniq()}` });
      expect(r.connack, `no CONNACK: ${r.error.message}`).toBeDefined();
      expect(r.error.code).toBe(code);
    });
  }

  for (const [version, code] of [[5, 0x85], [4, 0x02]] as const) {
    it(`v${version}: a client id that is not the certificate's device id is refused with CONNACK ${code}`, async () => {
      const [url, opts] = target(gw, dev['alice']!, 'tls', version, { clientId: 'bob' });
      const r = await refused(url, opts);
      expect(r.connack, `no CONNACK: ${r.error.message}`).toBeDefined();
      expect(r.error.code).toBe(code);
    });
  }

  it('TLS without a client certificate fails before any CONNACK', async () => {
    const d = dev['alice']!;
    const { host, port } = gw.endpoint('mqtts');
    const r = await refused(`mqtts://${host}:${port}`, { protocolVersion: 5, clientId: d.id, ca: d.ca, servername: 'localhost', rejectUnauthorized: true });
    expect(r.connack).toBeUndefined();
  });

  it('TLS with a self-signed certificate naming a real device fails before any CONNACK', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-foreign-'));
    try {
      const gen = await runTool('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=alice'], { timeoutMs: 10_000 });
      expect(gen.code, explain(gen)).toBe(0);
      const [url, opts] = target(gw, dev['alice']!, 'tls', 5, { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) });
      const r = await refused(url, opts);
      expect(r.connack).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('anonymous listener and WSS with a required client certificate', () => {
  let anon: Gateway;
  let labDev: DeviceCredentials;

  beforeAll(async () => {
    anon = await Gateway.start({
      ...CONFIG,
      listeners: {
        mqtt: { port: 0, anonymous: { segment: 'lab' } },
        mqtts: { port: 0, host: '127.0.0.1' },
        https: { port: 0, host: '127.0.0.1', requireClientCert: true },
      },
    });
    labDev = await anon.addDevice('wsdev', 'lab');
  }, SETUP_MS);

  afterAll(async () => {
    await closeAllClients();
    await anon?.dispose();
  });

  for (const version of [4, 5] as const) {
    it(`v${version}: a credential-less client gets in as segment lab and round-trips under lab/#`, async () => {
      const { host, port } = anon.endpoint('mqtt');
      const c = await open(`mqtt://${host}:${port}`, { protocolVersion: version, clientId: `anon-${version}-${uniq()}` });
      expect(connectCode(c)).toBe(0);
      const topic = `lab/anon/${uniq()}`;
      await subscribeOk(c.client, topic, 1);
      await publish(c.client, topic, 'anon-hello', { qos: 1 });
      expect((await c.inbox.waitForPayload(topic, 'anon-hello')).packet.qos).toBe(1);
      // The anonymous principal has the segment's grants only.
      expect(await subscribeCodes(c.client, { 'hvac/#': { qos: 0 } })).toEqual([version === 5 ? 0x87 : 0x80]);
      await close(c);
    });
  }

  it('WSS with the device certificate connects without a password and round-trips', async () => {
    const { host, port } = anon.endpoint('https');
    const c = await open(`wss://${host}:${port}/mqtt`, { protocolVersion: 5, clientId: labDev.id, ca: labDev.ca, cert: labDev.cert, key: labDev.key, rejectUnauthorized: true });
    expect(connectCode(c)).toBe(0);
    const topic = `lab/${labDev.id}/ws/${uniq()}`;
    await subscribeOk(c.client, topic, 2);
    await publish(c.client, topic, 'ws-cert', { qos: 2 });
    expect((await c.inbox.waitForPayload(topic, 'ws-cert')).packet.qos).toBe(2);
    await close(c);
  });

  it('WSS without a client certificate fails when the listener requires one', async () => {
    const { host, port } = anon.endpoint('https');
    const r = await refused(`wss://${host}:${port}/mqtt`, { protocolVersion: 5, clientId: labDev.id, ca: labDev.ca, rejectUnauthorized: true });
    expect(r.connack).toBeUndefined();
  });
});

describe('policy', () => {
  it('v3.1.1: a denied filter gets SUBACK 0x80 while the allowed one in the same SUBSCRIBE is granted', async () => {
    const d = dev['alice']!;
    const c = await open(...target(gw, d, 'tcp', 4));
    expect(await subscribeCodes(c.client, { [`lab/${d.id}/ok`]: { qos: 1 }, 'hvac/thermostat-17/telemetry': { qos: 1 } })).toEqual([1, 0x80]);
    expect(await subscribeCodes(c.client, { '#': { qos: 0 } })).toEqual([0x80]);
    await close(c);
  });

  it('v5: a denied filter gets SUBACK 0x87 Not authorized', async () => {
    const d = dev['alice']!;
    const c = await open(...target(gw, d, 'tls', 5));
    expect(await subscribeCodes(c.client, { 'other/#': { qos: 1 }, [`lab/${d.id}/ok`]: { qos: 2 } })).toEqual([0x87, 2]);
    await close(c);
  });

  it('the built-in rule: a guest device may use guest/<id>/# and guest/broadcast/# only', async () => {
    const d = dev['mallory']!;
    const c = await open(...target(gw, d, 'tcp', 5));
    expect(await subscribeCodes(c.client, {
      [`guest/${d.id}/#`]: { qos: 1 },
      'guest/broadcast/#': { qos: 1 },
      'guest/alice/#': { qos: 1 },
      'lab/#': { qos: 1 },
    })).toEqual([1, 1, 0x87, 0x87]);
    await close(c);
  });

  it('v5: a denied QoS 1 PUBLISH gets PUBACK 0x87 and is not routed', async () => {
    const ops = await open(...target(gw, dev['ops']!, 'tcp', 5));
    await subscribeOk(ops.client, '#', 1);
    const d = dev['mallory']!;
    const c = await open(...target(gw, d, 'tcp', 5));
    const denied = `lab/forbidden/${uniq()}`;
    const err = await publish(c.client, denied, 'nope', { qos: 1 }).then(() => undefined, (e: unknown) => e as Error & { code?: number });
    expect(err, 'PUBLISH to a denied topic was acknowledged with success').toBeDefined();
    expect(err?.code).toBe(0x87);
    const sentinel = `guest/${d.id}/sentinel`;
    await publish(c.client, sentinel, 'after', { qos: 1 });
    await ops.inbox.waitForPayload(sentinel, 'after');
    expect(await quietFor(ops.inbox, (m) => m.topic === denied, 300)).toEqual([]);
    await Promise.all([close(c), close(ops)]);
  });

  it('v3.1.1: a denied QoS 1 PUBLISH is still PUBACKed and silently dropped', async () => {
    const ops = await open(...target(gw, dev['ops']!, 'tcp', 5));
    await subscribeOk(ops.client, '#', 1);
    const d = dev['mallory']!;
    const c = await open(...target(gw, d, 'tcp', 4));
    const denied = `lab/forbidden/${uniq()}`;
    const sent = await publish(c.client, denied, 'nope', { qos: 1 });
    expect(ackOf(c, sent)?.cmd).toBe('puback');
    expect(c.isClosed()).toBe(false);
    const sentinel = `guest/${d.id}/sentinel`;
    await publish(c.client, sentinel, 'after', { qos: 1 });
    await ops.inbox.waitForPayload(sentinel, 'after');
    expect(await quietFor(ops.inbox, (m) => m.topic === denied, 300)).toEqual([]);
    await Promise.all([close(c), close(ops)]);
  });
});

describe('retained messages', () => {
  it('are delivered to new subscribers with the retain flag, replaced by newer ones and deleted by an empty payload', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/retained/${uniq()}`;
    const live = await open(...target(gw, dev['bob']!, 'tcp', 4));
    await subscribeOk(live.client, topic, 1);
    const pub = await open(...target(gw, d, 'tcp', 5));
    await publish(pub.client, topic, 'r1', { qos: 1, retain: true });
    await publish(pub.client, topic, 'r2', { qos: 1, retain: true });
    // An existing subscription gets the message as a normal publication: retain 0 [MQTT-3.3.1-9].
    const liveMsg = await live.inbox.waitForPayload(topic, 'r2');
    expect(liveMsg.packet.retain).toBe(false);

    for (const version of [4, 5] as const) {
      const late = await open(...target(gw, dev['carol']!, 'tls', version));
      await subscribeOk(late.client, topic, 1);
      const m = await late.inbox.waitForTopic(topic);
      expect(m.payload.toString()).toBe('r2');
      expect(m.packet.retain).toBe(true);
      expect(m.packet.qos).toBe(1);
      expect(await quietFor(late.inbox, (x) => x.topic === topic, 200)).toHaveLength(1);
      await close(late);
    }

    await publish(pub.client, topic, '', { qos: 1, retain: true });
    const after = await open(...target(gw, dev['carol']!, 'tls', 5));
    await subscribeOk(after.client, topic, 1);
    // Retained messages are sent right after SUBACK; a later publication on the same topic
    // from the same publisher orders behind them, so anything retained would arrive first.
    await publish(pub.client, topic, 'sentinel', { qos: 1 });
    await after.inbox.waitForPayload(topic, 'sentinel');
    expect(after.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['sentinel']);
    await Promise.all([close(after), close(pub), close(live)]);
  });
});

describe('MQTT 5 features', () => {
  it('user properties, response topic, correlation data, content type and payload format round-trip', async () => {
    const base = `lab/props/${uniq()}`;
    const sub = await open(...target(gw, dev['bob']!, 'wss', 5));
    await subscribeOk(sub.client, `${base}/#`, 1);
    const pub = await open(...target(gw, dev['alice']!, 'tls', 5));
    const correlation = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x42]);
    await publish(pub.client, `${base}/req`, '{"t":21.5}', {
      qos: 1,
      properties: {
        userProperties: { site: 'plant-1', multi: ['x', 'y'] },
        responseTopic: `${base}/reply`,
        correlationData: correlation,
        contentType: 'application/json',
        payloadFormatIndicator: true,
      },
    });
    const m = await sub.inbox.waitForTopic(`${base}/req`);
    const p = m.packet.properties ?? {};
    expect(p.userProperties).toEqual({ site: 'plant-1', multi: ['x', 'y'] });
    expect(p.responseTopic).toBe(`${base}/reply`);
    expect(Buffer.from(p.correlationData ?? []).equals(correlation)).toBe(true);
    expect(p.contentType).toBe('application/json');
    expect(p.payloadFormatIndicator).toBe(true);
    await Promise.all([close(sub), close(pub)]);
  });

  it('request/response: the responder answers on the response topic with the correlation data', async () => {
    const base = `lab/rpc/${uniq()}`;
    const responder = await open(...target(gw, dev['bob']!, 'tcp', 5));
    responder.client.on('message', (_topic, payload, packet: IPublishPacket) => {
      const rt = packet.properties?.responseTopic;
      if (!rt) return;
      responder.client.publish(rt, `echo:${payload.toString()}`, { qos: 1, properties: { correlationData: packet.properties?.correlationData } });
    });
    await subscribeOk(responder.client, `${base}/requests`, 1);
    const requester = await open(...target(gw, dev['alice']!, 'tcp', 5));
    await subscribeOk(requester.client, `${base}/responses`, 1);
    for (const id of ['req-1', 'req-2']) {
      await publish(requester.client, `${base}/requests`, id, { qos: 1, properties: { responseTopic: `${base}/responses`, correlationData: Buffer.from(id) } });
    }
    const replies = await requester.inbox.waitForCount((m) => m.topic === `${base}/responses`, 2);
    const byCorrelation = Object.fromEntries(replies.map((r) => [Buffer.from(r.packet.properties?.correlationData ?? []).toString(), r.payload.toString()]));
    expect(byCorrelation).toEqual({ 'req-1': 'echo:req-1', 'req-2': 'echo:req-2' });
    await Promise.all([close(responder), close(requester)]);
  });

  it('a v3.1.1 subscriber receives a v5 publication with properties as a plain message', async () => {
    const topic = `lab/v5to4/${uniq()}`;
    const sub = await open(...target(gw, dev['bob']!, 'tcp', 4));
    await subscribeOk(sub.client, topic, 1);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    await publish(pub.client, topic, 'plain', { qos: 1, properties: { userProperties: { a: 'b' }, contentType: 'text/plain' } });
    const m = await sub.inbox.waitForPayload(topic, 'plain');
    expect(m.packet.properties).toBeUndefined();
    await Promise.all([close(sub), close(pub)]);
  });

  it('topic aliases: the CONNACK announces a maximum and publications by alias reach the full topic', async () => {
    const topic = `lab/alias/${uniq()}`;
    const sub = await open(...target(gw, dev['bob']!, 'tcp', 5, { properties: { topicAliasMaximum: 10 } }));
    await subscribeOk(sub.client, topic, 1);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5, { autoUseTopicAlias: true }));
    const max = pub.connack.properties?.topicAliasMaximum ?? 0;
    expect(max).toBeGreaterThan(0);
    const sent: IPublishPacket[] = [];
    pub.client.on('packetsend', (p) => {
      if (p.cmd === 'publish') sent.push(p);
    });
    await publish(pub.client, topic, 'first', { qos: 1, properties: { topicAlias: 1 } });
    await publish(pub.client, topic, 'second', { qos: 1 });
    await publish(pub.client, topic, 'third', { qos: 0 });
    // The client really sent the later ones by alias only.
    expect(sent.map((p) => [p.topic.toString(), p.properties?.topicAlias])).toEqual([[topic, 1], ['', 1], ['', 1]]);
    const got = await sub.inbox.waitForCount((m) => m.topic === topic, 3);
    expect(got.map((m) => m.payload.toString())).toEqual(['first', 'second', 'third']);
    await Promise.all([close(sub), close(pub)]);
  });

  it('message expiry: a queued message whose expiry passed is not delivered; the rest carry the remaining lifetime', async () => {
    const d = dev['carol']!;
    const topic = `lab/expiry/${uniq()}`;
    const opts = { clean: false, properties: { sessionExpiryInterval: 300 } };
    const s1 = await open(...target(gw, d, 'tcp', 5, opts));
    await subscribeOk(s1.client, topic, 1);
    await close(s1);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    await publish(pub.client, topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish(pub.client, topic, 'long', { qos: 1, properties: { messageExpiryInterval: 120 } });
    await sleep(2_500);
    const s2 = await open(...target(gw, d, 'tcp', 5, opts));
    expect(s2.connack.sessionPresent).toBe(true);
    const long = await s2.inbox.waitForPayload(topic, 'long');
    const remaining = long.packet.properties?.messageExpiryInterval;
    expect(remaining).toBeDefined();
    expect(remaining!).toBeLessThanOrEqual(118);
    expect(remaining!).toBeGreaterThan(100);
    expect(await quietFor(s2.inbox, (m) => m.topic === topic, 300)).toHaveLength(1);
    // Leave no session behind for later tests that reuse the id.
    await close(s2);
    const wipe = await open(...target(gw, d, 'tcp', 5, { clean: true }));
    await Promise.all([close(wipe), close(pub)]);
  });

  it('shared subscriptions: $share/g/filter splits a stream round-robin across 2 subscribers', async () => {
    const topic = `lab/jobs/${uniq()}`;
    const filter = `$share/workers/${topic}`;
    const a = await open(...target(gw, dev['share1']!, 'tcp', 5));
    const b = await open(...target(gw, dev['share2']!, 'tls', 5));
    expect(await subscribeCodes(a.client, { [filter]: { qos: 1 } })).toEqual([1]);
    expect(await subscribeCodes(b.client, { [filter]: { qos: 1 } })).toEqual([1]);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    const sent = Array.from({ length: 10 }, (_, i) => `job-${i}`);
    for (const s of sent) await publish(pub.client, topic, s, { qos: 1 });
    await waitUntil(
      () => a.inbox.on(topic).length + b.inbox.on(topic).length >= sent.length,
      5_000,
      () => `10 shared deliveries (a=${a.inbox.on(topic).length}, b=${b.inbox.on(topic).length})`,
    );
    await sleep(300);
    const gotA = a.inbox.on(topic).map((m) => m.payload.toString());
    const gotB = b.inbox.on(topic).map((m) => m.payload.toString());
    expect([...gotA, ...gotB].sort()).toEqual([...sent].sort());
    expect(gotA.length, `a got ${gotA.join(',')}; b got ${gotB.join(',')}`).toBe(5);
    expect(gotB.length).toBe(5);
    await Promise.all([close(a), close(b), close(pub)]);
  });

  it('shared subscriptions also work for a v3.1.1 client', async () => {
    const topic = `lab/jobs4/${uniq()}`;
    const a = await open(...target(gw, dev['share1']!, 'tcp', 4));
    expect(await subscribeCodes(a.client, { [`$share/g4/${topic}`]: { qos: 1 } })).toEqual([1]);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 4));
    await publish(pub.client, topic, 'only', { qos: 1 });
    const m = await a.inbox.waitForPayload(topic, 'only');
    expect(m.packet.qos).toBe(1);
    await Promise.all([close(a), close(pub)]);
  });

  it('$SYS topics are published periodically to a segment granted $SYS/#, and # does not match them', async () => {
    const sys = await open(...target(gw, dev['bob']!, 'tcp', 5));
    expect(await subscribeCodes(sys.client, { '$SYS/#': { qos: 0 } })).toEqual([0]);
    const wide = await open(...target(gw, dev['ops']!, 'tcp', 4));
    await subscribeOk(wide.client, '#', 0);
    const m = await sys.inbox.waitFor((x) => x.topic.startsWith('$SYS/'), 5_000, 'a $SYS message (sysIntervalSeconds: 1)');
    expect(m.payload.length).toBeGreaterThan(0);
    // A segment without the grant is refused.
    const guest = await open(...target(gw, dev['mallory']!, 'tcp', 4));
    expect(await subscribeCodes(guest.client, { '$SYS/#': { qos: 0 } })).toEqual([0x80]);
    await sleep(1_500);
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with $.
    expect(wide.inbox.messages.filter((x) => x.topic.startsWith('$'))).toEqual([]);
    await Promise.all([close(sys), close(wide), close(guest)]);
  });
});

describe('session takeover', () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: a second connection with the same client id closes the first`, async () => {
      const d = dev['taken']!;
      const first = await open(...target(gw, d, 'tcp', version));
      const second = await open(...target(gw, d, 'tls', version));
      await withTimeout(first.closed, 5_000, 'the older connection to be closed');
      if (version === 5) {
        expect(first.disconnects.map((p) => p.reasonCode)).toEqual([0x8e]);
      }
      expect(second.isClosed()).toBe(false);
      const topic = `lab/${d.id}/after-takeover`;
      await subscribeOk(second.client, topic, 1);
      await publish(second.client, topic, 'still here', { qos: 1 });
      await second.inbox.waitForPayload(topic, 'still here');
      await close(second);
    });
  }
});

describe('will messages', () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: the will is published when the socket is destroyed, not after a clean DISCONNECT`, async () => {
      const d = dev['carol']!;
      const topic = `lab/${d.id}/status/${uniq()}`;
      const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
      await subscribeOk(watcher.client, topic, 1);

      const polite = await open(...target(gw, d, 'tcp', version, { will: { topic, payload: Buffer.from('polite-gone'), qos: 1, retain: false } }));
      await close(polite);

      const crasher = await open(...target(gw, d, 'tls', version, { will: { topic, payload: Buffer.from('crashed'), qos: 1, retain: false } }));
      crash(crasher);
      const will = await watcher.inbox.waitForPayload(topic, 'crashed', 10_000);
      expect(will.packet.qos).toBe(1);
      expect(watcher.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['crashed']);
      await close(watcher);
    });
  }

  it('v5: DISCONNECT with reason 0x04 publishes the will', async () => {
    const d = dev['carol']!;
    const topic = `lab/${d.id}/status/${uniq()}`;
    const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(watcher.client, topic, 1);
    const c = await open(...target(gw, d, 'tcp', 5, { will: { topic, payload: Buffer.from('asked-for'), qos: 1, retain: false } }));
    await withTimeout(c.client.endAsync({ reasonCode: 0x04 }), 3_000, 'DISCONNECT 0x04');
    await watcher.inbox.waitForPayload(topic, 'asked-for');
    await close(watcher);
  });
});

describe('subscription options, session lifecycle and limits', () => {
  it('v5 no local: a subscriber does not get its own publications back', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/nl/${uniq()}`;
    const c = await open(...target(gw, d, 'tcp', 5));
    expect(await subscribeCodes(c.client, { [topic]: { qos: 1, nl: true } })).toEqual([1]);
    const other = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await publish(c.client, topic, 'mine', { qos: 1 });
    await publish(other.client, topic, 'theirs', { qos: 1 });
    await c.inbox.waitForPayload(topic, 'theirs');
    expect(c.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['theirs']);
    await Promise.all([close(c), close(other)]);
  });

  it('v5 retain as published keeps the retain flag on live delivery; retain handling 1 and 2 control retained delivery', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/rh/${uniq()}`;
    const pub = await open(...target(gw, d, 'tcp', 5));
    await publish(pub.client, topic, 'stored', { qos: 1, retain: true });

    const rap = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(rap.client, { [topic]: { qos: 1, rap: true, rh: 2 } });
    const never = await open(...target(gw, dev['carol']!, 'tcp', 5));
    await subscribeOk(never.client, { [topic]: { qos: 1, rh: 2 } });
    await publish(pub.client, topic, 'fresh', { qos: 1, retain: true });
    const live = await rap.inbox.waitForPayload(topic, 'fresh');
    expect(live.packet.retain).toBe(true);
    await never.inbox.waitForPayload(topic, 'fresh');
    // rh 2: the retained 'stored' was not sent at subscribe time.
    expect(rap.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['fresh']);
    expect(never.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['fresh']);
    expect(never.inbox.on(topic)[0]!.packet.retain).toBe(false);

    // rh 1: retained messages only when the subscription is new.
    const once = await open(...target(gw, dev['share1']!, 'tcp', 5));
    await subscribeOk(once.client, { [topic]: { qos: 1, rh: 1 } });
    await once.inbox.waitForPayload(topic, 'fresh');
    await subscribeOk(once.client, { [topic]: { qos: 1, rh: 1 } });
    await publish(pub.client, topic, 'sentinel', { qos: 1 });
    await once.inbox.waitForPayload(topic, 'sentinel');
    expect(once.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['fresh', 'sentinel']);
    await publish(pub.client, topic, '', { qos: 1, retain: true });
    await Promise.all([close(pub), close(rap), close(never), close(once)]);
  });

  it('v5 subscription identifiers are returned with matching publications', async () => {
    const base = `lab/subid/${uniq()}`;
    const c = await open(...target(gw, dev['bob']!, 'tcp', 5));
    expect(c.connack.properties?.subscriptionIdentifiersAvailable ?? true).toBe(true);
    expect(await subscribeCodes(c.client, { [`${base}/a/#`]: { qos: 1 } }, { subscriptionIdentifier: 7 })).toEqual([1]);
    expect(await subscribeCodes(c.client, { [`${base}/+/x`]: { qos: 1 } }, { subscriptionIdentifier: 9 })).toEqual([1]);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    await publish(pub.client, `${base}/a/x`, 'both', { qos: 1 });
    await publish(pub.client, `${base}/b/x`, 'one', { qos: 1 });
    const both = await c.inbox.waitForPayload(`${base}/a/x`, 'both');
    const one = await c.inbox.waitForPayload(`${base}/b/x`, 'one');
    // Overlapping subscriptions: either one delivery carrying both ids or one delivery per subscription.
    const idsForBoth = c.inbox.on(`${base}/a/x`).flatMap((m) => [m.packet.properties?.subscriptionIdentifier ?? []].flat());
    expect(idsForBoth.sort()).toEqual([7, 9]);
    expect(both.payload.toString()).toBe('both');
    expect([one.packet.properties?.subscriptionIdentifier].flat()).toEqual([9]);
    await Promise.all([close(c), close(pub)]);
  });

  it('UNSUBSCRIBE stops delivery; v5 UNSUBACK says 0x11 for a filter that was not subscribed', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/unsub/${uniq()}`;
    const c = await open(...target(gw, d, 'tcp', 5));
    await subscribeOk(c.client, topic, 1);
    await publish(c.client, topic, 'before', { qos: 1 });
    await c.inbox.waitForPayload(topic, 'before');
    await withTimeout(c.client.unsubscribeAsync([topic, `${topic}/never`]), 5_000, 'UNSUBACK');
    const unsuback = c.packets.filter((p) => p.cmd === 'unsuback').at(-1) as { granted?: number[] } | undefined;
    expect(unsuback?.granted).toEqual([0x00, 0x11]);
    await subscribeOk(c.client, `lab/${d.id}/unsub-sentinel`, 1);
    await publish(c.client, topic, 'after', { qos: 1 });
    await publish(c.client, `lab/${d.id}/unsub-sentinel`, 'sentinel', { qos: 1 });
    await c.inbox.waitForPayload(`lab/${d.id}/unsub-sentinel`, 'sentinel');
    expect(c.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['before']);
    await close(c);
  });

  it('clean start discards a stored session, and v5 session expiry 0 ends the session at disconnect', async () => {
    const d = dev['share2']!;
    const topic = `lab/${d.id}/lifecycle/${uniq()}`;
    // v3.1.1: clean false creates, clean true discards.
    const a = await open(...target(gw, d, 'tcp', 4, { clean: false }));
    await subscribeOk(a.client, topic, 1);
    await close(a);
    const b = await open(...target(gw, d, 'tcp', 4, { clean: true }));
    expect(b.connack.sessionPresent).toBe(false);
    await close(b);
    const c = await open(...target(gw, d, 'tcp', 4, { clean: false }));
    expect(c.connack.sessionPresent).toBe(false);
    await close(c);
    const wipe = await open(...target(gw, d, 'tcp', 4, { clean: true }));
    await close(wipe);
    // v5: clean start false without a session expiry interval: the session ends with the connection.
    const e = await open(...target(gw, d, 'tcp', 5, { clean: false }));
    expect(e.connack.sessionPresent).toBe(false);
    await subscribeOk(e.client, topic, 1);
    await close(e);
    const f = await open(...target(gw, d, 'tcp', 5, { clean: false }));
    expect(f.connack.sessionPresent).toBe(false);
    await close(f);
  });

  it('a retained message whose expiry passed is no longer delivered to new subscribers', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/retained-expiry/${uniq()}`;
    const pub = await open(...target(gw, d, 'tcp', 5));
    await publish(pub.client, topic, 'brief', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await sleep(2_200);
    const sub = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(sub.client, topic, 1);
    await publish(pub.client, topic, 'sentinel', { qos: 1 });
    await sub.inbox.waitForPayload(topic, 'sentinel');
    expect(sub.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['sentinel']);
    await Promise.all([close(pub), close(sub)]);
  });

  it('v5 will delay: the will waits for the delay and is cancelled by a reconnect within it', async () => {
    const d = dev['carol']!;
    const topic = `lab/${d.id}/delayed/${uniq()}`;
    const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(watcher.client, topic, 1);
    const opts = { clean: false, properties: { sessionExpiryInterval: 60 }, will: { topic, payload: Buffer.from('late'), qos: 1 as const, retain: false, properties: { willDelayInterval: 2 } } };
    const first = await open(...target(gw, d, 'tcp', 5, { ...opts, will: { ...opts.will, payload: Buffer.from('cancelled') } }));
    crash(first);
    await sleep(500);
    const back = await open(...target(gw, d, 'tcp', 5, opts));
    const t0 = Date.now();
    crash(back);
    const will = await watcher.inbox.waitForPayload(topic, 'late', 8_000);
    expect(will.at - t0).toBeGreaterThanOrEqual(1_500);
    await sleep(300);
    expect(watcher.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['late']);
    const wipe = await open(...target(gw, d, 'tcp', 5, { clean: true }));
    await Promise.all([close(wipe), close(watcher)]);
  });

  it('a 512 KiB payload round-trips intact at QoS 1', async () => {
    const d = dev['alice']!;
    const topic = `lab/${d.id}/big/${uniq()}`;
    const c = await open(...target(gw, d, 'tls', 5));
    await subscribeOk(c.client, topic, 1);
    const payload = Buffer.alloc(512 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    await publish(c.client, topic, payload, { qos: 1 }, 10_000);
    const m = await c.inbox.waitForTopic(topic, 10_000);
    expect(m.payload.equals(payload)).toBe(true);
    await close(c);
  });

  it('QoS 1 publications from one client arrive in order', async () => {
    const topic = `lab/order/${uniq()}`;
    const sub = await open(...target(gw, dev['bob']!, 'wss', 5));
    await subscribeOk(sub.client, topic, 1);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 4));
    const sent = Array.from({ length: 200 }, (_, i) => String(i));
    await withTimeout(Promise.all(sent.map((p) => pub.client.publishAsync(topic, p, { qos: 1 }))), 10_000, '200 PUBACKs');
    const got = await sub.inbox.waitForCount((m) => m.topic === topic, sent.length, 10_000);
    expect(got.map((m) => m.payload.toString())).toEqual(sent);
    await Promise.all([close(sub), close(pub)]);
  });

  it('keep alive: a silent client is disconnected after 1.5 x keep alive and its will is published', async () => {
    const d = dev['carol']!;
    const topic = `lab/${d.id}/keepalive/${uniq()}`;
    const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(watcher.client, topic, 1);
    const { host, port } = gw.endpoint('mqtt');
    const sock = connectSocket(port, host);
    let received = Buffer.alloc(0);
    // Read everything, or the socket never reports the broker's close.
    sock.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
    });
    try {
      await withTimeout(new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej)), 5_000, 'TCP connect');
      const t0 = Date.now();
      sock.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: d.id, keepalive: 1, username: d.id, password: Buffer.from(d.password!), will: { topic, payload: Buffer.from('silent'), qos: 1, retain: false } }));
      const closedAt = await withTimeout(new Promise<number>((res) => sock.once('close', () => res(Date.now()))), 8_000, 'the broker to close a silent connection');
      expect([...received.subarray(0, 4)], 'CONNACK accepted').toEqual([0x20, 0x02, 0x00, 0x00]);
      expect(closedAt - t0).toBeGreaterThanOrEqual(1_000);
      expect(closedAt - t0).toBeLessThanOrEqual(3_500);
      await watcher.inbox.waitForPayload(topic, 'silent');
    } finally {
      sock.destroy();
      await close(watcher);
    }
  });
});

describe('QoS flows on the wire (raw MQTT over a real socket)', () => {
  function rawTarget(d: DeviceCredentials, version: Version, clean: boolean, extra: Record<string, unknown> = {}): Parameters<typeof RawClient.connect> {
    const { host, port } = gw.endpoint('mqtt');
    return [host, port, { protocolVersion: version, clientId: d.id, clean, keepalive: 30, username: d.id, password: Buffer.from(d.password!), ...extra }];
  }

  it('QoS 2 in: a retransmitted PUBLISH (DUP) before PUBREL is acknowledged again and delivered once [MQTT-4.3.3-9]', async () => {
    const topic = `lab/q2in/${uniq()}`;
    const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(watcher.client, topic, 2);
    const { raw, connack } = await RawClient.connect(...rawTarget(dev['rawpub']!, 4, true));
    expect(connack.returnCode).toBe(0);
    const pkt = { cmd: 'publish', topic, payload: Buffer.from('once'), qos: 2, messageId: 11, retain: false, dup: false } as const;
    raw.send(pkt);
    await raw.next('pubrec', 5_000, (p) => p.messageId === 11);
    raw.send({ ...pkt, dup: true });
    await raw.next('pubrec', 5_000, (p) => p.messageId === 11);
    raw.send({ cmd: 'pubrel', messageId: 11 });
    await raw.next('pubcomp', 5_000, (p) => p.messageId === 11);
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('sentinel'), qos: 1, messageId: 12, retain: false, dup: false });
    await raw.next('puback', 5_000, (p) => p.messageId === 12);
    await watcher.inbox.waitForPayload(topic, 'sentinel');
    expect(watcher.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['once', 'sentinel']);
    raw.destroy();
    await close(watcher);
  });

  it('QoS 2 in: the packet id state survives a reconnect of a persistent session; no duplicate delivery', async () => {
    const topic = `lab/q2in-resume/${uniq()}`;
    const watcher = await open(...target(gw, dev['bob']!, 'tcp', 5));
    await subscribeOk(watcher.client, topic, 2);
    const d = dev['rawpub']!;
    const first = await RawClient.connect(...rawTarget(d, 4, false));
    expect(first.connack.returnCode).toBe(0);
    const pkt = { cmd: 'publish', topic, payload: Buffer.from('resumed'), qos: 2, messageId: 21, retain: false, dup: false } as const;
    first.raw.send(pkt);
    await first.raw.next('pubrec', 5_000, (p) => p.messageId === 21);
    first.raw.destroy();
    // The PUBREC "was lost": the client resends the PUBLISH on the resumed session.
    const second = await RawClient.connect(...rawTarget(d, 4, false));
    expect(second.connack.sessionPresent).toBe(true);
    second.raw.send({ ...pkt, dup: true });
    await second.raw.next('pubrec', 5_000, (p) => p.messageId === 21);
    second.raw.send({ cmd: 'pubrel', messageId: 21 });
    await second.raw.next('pubcomp', 5_000, (p) => p.messageId === 21);
    second.raw.send({ cmd: 'publish', topic, payload: Buffer.from('sentinel'), qos: 1, messageId: 22, retain: false, dup: false });
    await second.raw.next('puback', 5_000, (p) => p.messageId === 22);
    await watcher.inbox.waitForPayload(topic, 'sentinel');
    expect(watcher.inbox.on(topic).map((m) => m.payload.toString())).toEqual(['resumed', 'sentinel']);
    second.raw.destroy();
    const wipe = await RawClient.connect(...rawTarget(d, 4, true));
    wipe.raw.send({ cmd: 'disconnect' });
    wipe.raw.destroy();
    await close(watcher);
  });

  it("v5 flow control: no more unacknowledged QoS 1 PUBLISHes than the client's Receive Maximum", async () => {
    const topic = `lab/flow/${uniq()}`;
    const { raw, connack } = await RawClient.connect(...rawTarget(dev['rawpub']!, 5, true, { properties: { receiveMaximum: 2 } }));
    expect(connack.reasonCode).toBe(0);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    const suback = await raw.next('suback');
    expect(suback.cmd === 'suback' ? suback.granted : undefined).toEqual([1]);
    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    for (let i = 0; i < 5; i++) await publish(pub.client, topic, `m${i}`, { qos: 1 });
    const firstTwo = [await raw.next('publish'), await raw.next('publish')];
    await sleep(500);
    expect(raw.count('publish'), 'PUBLISH packets in flight with Receive Maximum 2').toBe(2);
    raw.send({ cmd: 'puback', messageId: firstTwo[0]!.messageId! });
    const third = await raw.next('publish', 5_000);
    await sleep(300);
    expect(raw.count('publish')).toBe(3);
    raw.send({ cmd: 'puback', messageId: firstTwo[1]!.messageId! });
    raw.send({ cmd: 'puback', messageId: third.messageId! });
    const rest = [await raw.next('publish'), await raw.next('publish')];
    for (const p of rest) raw.send({ cmd: 'puback', messageId: p.messageId! });
    const payloads = [...firstTwo, third, ...rest].map((p) => (p.cmd === 'publish' ? p.payload.toString() : ''));
    expect(payloads).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    raw.destroy();
    await close(pub);
  });
});

// Runs last: it restarts the gateway (ports change; the gateway is re-read through gw.endpoint).
describe('persistent sessions across a gateway restart', () => {
  it('queued QoS 1/2 messages and retained messages survive a restart; QoS 2 arrives exactly once', async () => {
    const topic4 = `lab/persist/v4/${uniq()}`;
    const topic5 = `lab/persist/v5/${uniq()}`;
    const retainedTopic = `lab/persist/retained/${uniq()}`;
    const p4 = (): [string, IClientOptions] => target(gw, dev['persist4']!, 'tcp', 4, { clean: false });
    const p5 = (): [string, IClientOptions] => target(gw, dev['persist5']!, 'tls', 5, { clean: false, properties: { sessionExpiryInterval: 3600 } });

    // Start from no session, then create persistent ones and go offline.
    for (const [url, opts] of [target(gw, dev['persist4']!, 'tcp', 4), target(gw, dev['persist5']!, 'tls', 5)]) await close(await open(url, opts));
    const s4 = await open(...p4());
    const s5 = await open(...p5());
    expect(s4.connack.sessionPresent).toBe(false);
    expect(s5.connack.sessionPresent).toBe(false);
    await subscribeOk(s4.client, topic4, 2);
    await subscribeOk(s5.client, topic5, 2);
    await Promise.all([close(s4), close(s5)]);

    const pub = await open(...target(gw, dev['alice']!, 'tcp', 5));
    const payloads = ['q1-a', 'q1-b', 'q2-a', 'q2-b'];
    for (const topic of [topic4, topic5]) {
      for (const p of payloads) await publish(pub.client, topic, p, { qos: p.startsWith('q1') ? 1 : 2 });
    }
    await publish(pub.client, retainedTopic, 'kept', { qos: 1, retain: true });
    // v5 properties of a queued message must survive the store round trip.
    const correlation = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    await publish(pub.client, topic5, 'with-props', { qos: 1, properties: { userProperties: { k: 'v', multi: ['1', '2'] }, correlationData: correlation, responseTopic: 'lab/persist/reply', contentType: 'text/plain' } });
    await close(pub);

    // An inbound QoS 2 exchange left between PUBREC and PUBREL across the restart.
    const rawDev = dev['rawpub']!;
    const rawOpts = (): Parameters<typeof RawClient.connect> => {
      const { host, port } = gw.endpoint('mqtt');
      return [host, port, { protocolVersion: 5, clientId: rawDev.id, clean: false, keepalive: 30, username: rawDev.id, password: Buffer.from(rawDev.password!), properties: { sessionExpiryInterval: 3600 } }];
    };
    const q2 = { cmd: 'publish', topic: topic5, payload: Buffer.from('raw-q2'), qos: 2, messageId: 31, retain: false, dup: false } as const;
    const before = await RawClient.connect(...rawOpts());
    before.raw.send(q2);
    await before.raw.next('pubrec', 5_000, (p) => p.messageId === 31);
    before.raw.destroy();

    const exit = await gw.restart();
    expect(exit, `gateway stderr:\n${gw.stderr}`).toEqual({ code: 0, signal: null, killed: false });

    // The publisher's QoS 2 state survived: a resent PUBLISH is PUBRECed, PUBREL completes.
    const after = await RawClient.connect(...rawOpts());
    expect(after.connack.sessionPresent).toBe(true);
    after.raw.send({ ...q2, dup: true });
    const rec = await after.raw.next('pubrec', 5_000, (p) => p.messageId === 31);
    expect(rec.cmd === 'pubrec' ? rec.reasonCode ?? 0 : -1).toBe(0);
    after.raw.send({ cmd: 'pubrel', messageId: 31 });
    const comp = await after.raw.next('pubcomp', 5_000, (p) => p.messageId === 31);
    expect(comp.cmd === 'pubcomp' ? comp.reasonCode ?? 0 : -1, 'PUBCOMP reason (0x92 = packet identifier not found)').toBe(0);
    after.raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    after.raw.destroy();

    const r4 = await open(...p4());
    const r5 = await open(...p5());
    expect(r4.connack.sessionPresent).toBe(true);
    expect(r5.connack.sessionPresent).toBe(true);
    await r4.inbox.waitForCount((m) => m.topic === topic4, payloads.length, 10_000, `${payloads.length} queued messages on ${topic4}`);
    await r5.inbox.waitForCount((m) => m.topic === topic5, payloads.length + 2, 10_000, `${payloads.length + 2} queued messages on ${topic5}`);
    await sleep(1_500);
    const props = r5.inbox.on(topic5).find((m) => m.payload.toString() === 'with-props')?.packet.properties;
    expect(props?.userProperties).toEqual({ k: 'v', multi: ['1', '2'] });
    expect(Buffer.from(props?.correlationData ?? []).equals(correlation)).toBe(true);
    expect(props?.responseTopic).toBe('lab/persist/reply');
    expect(props?.contentType).toBe('text/plain');
    expect(r5.inbox.on(topic5).filter((m) => m.payload.toString() === 'raw-q2'), 'raw-q2 delivered exactly once').toHaveLength(1);
    for (const [conn, topic] of [[r4, topic4], [r5, topic5]] as const) {
      const got = conn.inbox.on(topic);
      const q2 = got.filter((m) => m.payload.toString().startsWith('q2'));
      expect(q2.map((m) => m.payload.toString()).sort(), `QoS 2 on ${topic}`).toEqual(['q2-a', 'q2-b']);
      expect(q2.every((m) => m.packet.qos === 2)).toBe(true);
      const q1 = got.filter((m) => m.payload.toString().startsWith('q1')).map((m) => m.payload.toString());
      expect(new Set(q1)).toEqual(new Set(['q1-a', 'q1-b']));
      expect(q1.indexOf('q1-a')).toBeLessThan(q1.lastIndexOf('q1-b'));
    }

    // The subscriptions themselves survived: a new publication arrives without re-subscribing.
    const pub2 = await open(...target(gw, dev['alice']!, 'tcp', 5));
    await publish(pub2.client, topic4, 'live', { qos: 1 });
    await publish(pub2.client, topic5, 'live', { qos: 1 });
    await r4.inbox.waitForPayload(topic4, 'live');
    await r5.inbox.waitForPayload(topic5, 'live');

    // Retained messages survived too.
    const late = await open(...target(gw, dev['carol']!, 'tcp', 5));
    await subscribeOk(late.client, retainedTopic, 1);
    const kept = await late.inbox.waitForTopic(retainedTopic);
    expect(kept.payload.toString()).toBe('kept');
    expect(kept.packet.retain).toBe(true);
    await Promise.all([close(r4), close(r5), close(pub2), close(late)]);
  });
});
