/**
 * shield.inspect on every protocol (issue 5, points 3 and 5 wired; issue 4 point 6's "the shield
 * applies to every request on every protocol"): one table of device messages — benign telemetry,
 * SQL injection, XSS, command injection, path traversal, a replayed counter — sent over MQTT 5,
 * HTTPS and CoAP to one real gateway. Each protocol gives its own answer for the same verdict
 * (MQTT PUBACK 0x99 / 0x87, HTTP 403 / 409, CoAP 4.03 / 4.00) and each refusal is one security
 * event naming the rule. A segment in `log` mode lets the same payloads through with `waf.hit`.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/device-kit/index.ts';
import { Code } from '../../src/protocols/coap/constants.ts';
import { TestCoapClient } from './helpers/coap-client.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';

let t: TestGateway;
let sensor: DeviceCreds;
let logger: DeviceCreds;

beforeAll(async () => {
  t = await startTestGateway({
    listeners: { coap: { anonymous: { segment: 'plant' } }, mqtts: { clientIdMatch: 'exact' } },
    policy: { segments: { plant: { publish: ['plant/#'], subscribe: ['plant/#'] }, lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } },
    shield: { waf: { segments: { lab: { mode: 'log' } }, topics: [{ topic: 'plant/+/reading', maxBytes: 200, schema: { type: 'object', required: ['v'], properties: { v: { type: 'number' } } } }] }, replay: { topics: ['plant/+/cmd-ack', 'lab/+/cmd-ack'] } },
  });
  sensor = await addDevice(t, 'sensor-1', 'plant');
  logger = await addDevice(t, 'logger-1', 'lab');
});
afterAll(async () => t.stop());

async function events(type: string): Promise<Array<{ principal: string | null; detail: Record<string, unknown> }>> {
  await t.gateway.events.flush();
  return t.gateway.store.events.list({ type, limit: 1000 });
}

const CASES = [
  { name: 'benign telemetry', body: JSON.stringify({ temp: 21.5, note: "don't open the door, it's O'Brien's lab", unit: '°C', site: 'Zürich 東京' }), verdict: 'pass' },
  { name: 'SQL injection', body: JSON.stringify({ name: "x' OR '1'='1' --" }), verdict: 'blocked', rule: /^942/ },
  { name: 'XSS', body: JSON.stringify({ label: '<img src=x onerror=alert(document.cookie)>' }), verdict: 'blocked', rule: /^941/ },
  { name: 'command injection', body: JSON.stringify({ host: '8.8.8.8; cat /etc/passwd' }), verdict: 'blocked', rule: /^93[02]/ },
  { name: 'path traversal', body: JSON.stringify({ file: '../../../../etc/shadow' }), verdict: 'blocked', rule: /^930/ },
] as const;

async function mqttClient(dev: DeviceCreds): Promise<MqttClient> {
  const c = mqtt.connect(`mqtts://127.0.0.1:${t.port('mqtts')}`, { clientId: dev.id, protocolVersion: 5, ca: dev.ca, cert: dev.cert, key: dev.key, servername: 'localhost', reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** The PUBACK reason code of a QoS 1 publish (0 = accepted). */
async function pubackCode(c: MqttClient, topic: string, body: string | Buffer, userProperties?: Record<string, string>): Promise<number> {
  try {
    const packet = await c.publishAsync(topic, body, { qos: 1, ...(userProperties ? { properties: { userProperties } } : {}) });
    return packet && 'reasonCode' in packet && typeof packet.reasonCode === 'number' ? packet.reasonCode : 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

function httpPublish(dev: DeviceCreds, topic: string, body: string | Buffer): Promise<number> {
  return httpsCall({ host: '127.0.0.1', port: t.port('https'), servername: 'localhost', method: 'POST', path: `/api/v1/publish/${topic}`, ca: dev.ca, cert: dev.cert, key: dev.key, agent: false, headers: { 'content-type': 'application/json' } }, body).then((r) => r.status);
}

describe('one table over MQTT, HTTPS and CoAP', () => {
  it.each(CASES)('$name', async (c) => {
    const client = await mqttClient(sensor);
    const coap = await TestCoapClient.open(t.port('coap'));
    try {
      const before = (await events('waf.blocked')).length;
      const m = await pubackCode(client, 'plant/sensor-1/telemetry', c.body);
      const h = await httpPublish(sensor, 'plant/sensor-1/telemetry', c.body);
      const co = (await coap.request(Code.POST, '/ps/plant/coap/telemetry', { payload: c.body })).code;
      if (c.verdict === 'pass') {
        expect([m, h >= 200 && h < 300, co >> 5]).toEqual([0, true, 2]);
        expect((await events('waf.blocked')).length).toBe(before);
        return;
      }
      expect([m, h, co]).toEqual([0x99, 403, Code.FORBIDDEN]);
      const blocked = (await events('waf.blocked')).slice(before);
      expect(blocked.map((e) => e.detail.protocol).sort()).toEqual(['coap', 'http', 'mqtt']);
      for (const e of blocked) expect((e.detail.rules as string[]).some((r) => c.rule.test(r))).toBe(true);
    } finally {
      client.end(true);
      coap.close();
    }
  });

  it('HTTP requests: an injection in the query or a traversal in the path is refused with 403 before routing; a plain one passes', async () => {
    const get = (path: string) => httpsCall({ host: '127.0.0.1', port: t.port('https'), servername: 'localhost', method: 'GET', path, ca: sensor.ca, agent: false });
    expect((await get('/api/openapi.json?lang=en&page=2')).status).toBe(200);
    const before = (await events('waf.blocked')).length;
    expect((await get("/api/openapi.json?id=1%27%20OR%20%271%27%3D%271")).status).toBe(403);
    expect((await get('/api/openapi.json?file=..%2F..%2F..%2Fetc%2Fpasswd')).status).toBe(403);
    const blocked = (await events('waf.blocked')).slice(before);
    expect(blocked.map((e) => e.detail.protocol)).toEqual(['http', 'http']);
    expect(blocked.flatMap((e) => e.detail.rules as string[]).some((r) => r.startsWith('942'))).toBe(true);
  });

  it('per-topic rules: a payload that breaks the schema or the size cap is refused (0x99 / 400 / 4.00), a valid one passes', async () => {
    const client = await mqttClient(sensor);
    const coap = await TestCoapClient.open(t.port('coap'));
    try {
      expect(await pubackCode(client, 'plant/sensor-1/reading', '{"v":3.5}')).toBe(0);
      expect(await pubackCode(client, 'plant/sensor-1/reading', '{"v":"high"}')).toBe(0x99);
      expect(await httpPublish(sensor, 'plant/sensor-1/reading', 'not json')).toBe(400);
      expect((await coap.request(Code.POST, '/ps/plant/coap/reading', { payload: JSON.stringify({ v: 1, pad: 'x'.repeat(300) }) })).code).toBe(Code.BAD_REQUEST);
      const invalid = await events('waf.invalid_payload');
      expect(invalid.map((e) => e.detail.protocol)).toEqual(['mqtt', 'http', 'coap']);
      expect(invalid.map((e) => (e.detail.rules as string[])[0])).toEqual(['960110', '960100', '920390']);
    } finally {
      client.end(true);
      coap.close();
    }
  });

  it('a segment in log mode lets the attack through and records waf.hit with the rule', async () => {
    const client = await mqttClient(logger);
    try {
      expect(await pubackCode(client, 'lab/logger-1/x', JSON.stringify({ q: "1' UNION SELECT password FROM users --" }))).toBe(0);
      const hits = (await events('waf.hit')).filter((e) => e.principal === 'logger-1');
      expect(hits.length).toBeGreaterThan(0);
      expect(JSON.stringify(hits[0]!.detail.hits)).toMatch(/942/);
    } finally {
      client.end(true);
    }
  });

  it('a replayed counter on a protected topic is refused on every protocol; the routed payload is the original', async () => {
    const client = await mqttClient(sensor);
    const coap = await TestCoapClient.open(t.port('coap'));
    const routed: string[] = [];
    await client.subscribeAsync('plant/+/cmd-ack', { qos: 1 });
    client.on('message', (_topic, p) => routed.push(p.toString()));
    try {
      // MQTT 5: the counter in a user property.
      expect(await pubackCode(client, 'plant/sensor-1/cmd-ack', '{"ok":true}', { 'palisade-ctr': '1' })).toBe(0);
      expect(await pubackCode(client, 'plant/sensor-1/cmd-ack', '{"ok":true}', { 'palisade-ctr': '1' })).toBe(0x87);
      expect(await pubackCode(client, 'plant/sensor-1/cmd-ack', '{"ok":true}')).toBe(0x87);
      // HTTPS: the JSON envelope (same device, its counter moves on).
      const env = encodeEnvelope({ kind: 'ctr', ctr: 2 }, { ok: true });
      expect(await httpPublish(sensor, 'plant/sensor-1/cmd-ack', env)).toBeLessThan(300);
      expect(await httpPublish(sensor, 'plant/sensor-1/cmd-ack', env)).toBe(409);
      // CoAP (the anonymous plant device): envelope, then the same datagram content again.
      const c1 = encodeEnvelope({ kind: 'ctr', ctr: 7 }, { v: 1 });
      expect((await coap.request(Code.POST, '/ps/plant/coap/cmd-ack', { payload: c1 })).code >> 5).toBe(2);
      expect((await coap.request(Code.POST, '/ps/plant/coap/cmd-ack', { payload: c1 })).code).toBe(Code.BAD_REQUEST);
      const refused = await events('replay.refused');
      expect(new Set(refused.map((e) => e.detail.protocol))).toEqual(new Set(['mqtt', 'http', 'coap']));
      // Exactly the three first copies were routed, envelopes unwrapped.
      for (let i = 0; i < 50 && routed.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(routed.sort()).toEqual(['{"ok":true}', '{"ok":true}', '{"v":1}']);
    } finally {
      client.end(true);
      coap.close();
    }
  });
});
