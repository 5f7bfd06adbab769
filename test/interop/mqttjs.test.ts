/**
 * MQTT.js 5 (as an MQTT 3.1.1 and an MQTT 5.0 client) against a real Palisade gateway process
 * over TCP (device password), TLS (device certificate) and WebSocket over TLS.
 */
import type { IClientOptions, IPublishPacket } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, runTool, withTimeout, type DeviceCredentials } from './harness.ts';
import { ackOf, close, closeAllClients, crash, open, publish, quietFor, refused, subscribeCodes, subscribeOk, type Conn } from './mqtt-helpers.ts';

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
  const lab = ['tcp4', 'tcp5', 'tls4', 'tls5', 'wss4', 'wss5', 'alice', 'bob', 'carol', 'share1', 'share2', 'persist4', 'persist5', 'taken'];
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
    await withTimeout(
      (async () => {
        while (a.inbox.on(topic).length + b.inbox.on(topic).length < sent.length) await sleep(20);
      })(),
      5_000,
      `10 shared deliveries (a=${a.inbox.on(topic).length}, b=${b.inbox.on(topic).length})`,
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
    await close(pub);

    const exit = await gw.restart();
    expect(exit, `gateway stderr:\n${gw.stderr}`).toEqual({ code: 0, signal: null, killed: false });

    const r4 = await open(...p4());
    const r5 = await open(...p5());
    expect(r4.connack.sessionPresent).toBe(true);
    expect(r5.connack.sessionPresent).toBe(true);
    for (const [conn, topic] of [[r4, topic4], [r5, topic5]] as const) {
      await conn.inbox.waitForCount((m) => m.topic === topic, payloads.length, 10_000, `${payloads.length} queued messages on ${topic}`);
    }
    await sleep(1_500);
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
