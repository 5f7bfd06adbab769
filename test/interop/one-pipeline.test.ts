/**
 * One pipeline for all protocols (issue 4 point 6): one table of allowed and denied requests,
 * run by the same device over MQTT (password), HTTPS (device token, Basic) and CoAP over DTLS
 * (libcoap's coap-client-openssl with the device's PSK). Each protocol must give the same
 * answer, and each refusal must be a security event naming the device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateDevicePsk } from '../../src/core/psk/device-psk.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { addDevice, type DeviceCreds } from '../unit/helpers/devices.ts';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { httpsCall } from '../unit/helpers/https-call.ts';
import { RawClient } from '../unit/helpers/raw-client.ts';
import { runTool } from './harness.ts';

type Op = 'publish' | 'read';
interface Case {
  what: string;
  op: Op;
  topic: string;
  allowed: boolean;
}

// Device d1 in segment plant-a; `hvac` is granted by a stored policy that also denies one topic.
const TABLE: Case[] = [
  { what: 'own topic tree (segment-default)', op: 'publish', topic: 'plant-a/d1/temp', allowed: true },
  { what: 'another segment', op: 'publish', topic: 'plant-b/d2/temp', allowed: false },
  { what: 'a stored grant with a wildcard', op: 'publish', topic: 'hvac/zone-1/telemetry', allowed: true },
  { what: 'an explicit deny overriding the grant', op: 'publish', topic: 'hvac/vault/d1', allowed: false },
  { what: 'the segment broadcast tree', op: 'read', topic: 'plant-a/broadcast/news', allowed: true },
  { what: "another segment's broadcast tree", op: 'read', topic: 'plant-b/broadcast/news', allowed: false },
];

let t: TestGateway;
let d1: DeviceCreds;
let psk: string;

beforeAll(async () => {
  t = await startTestGateway();
  d1 = await addDevice(t, 'd1', 'plant-a', true);
  psk = (await rotateDevicePsk({ devices: t.gateway.store.devices, psks: t.gateway.store.devicePsks, secrets: openSecretBox(t.dataDir, t.config.secrets) }, 'd1')).toString('ascii');
  await t.gateway.store.policies.put({
    name: 'hvac',
    version: '2026-11',
    statements: [
      { sid: 'hvac', effect: 'allow', actions: ['mqtt:publish'], resources: ['hvac/#'] },
      { sid: 'vault', effect: 'deny', actions: ['mqtt:*'], resources: ['hvac/vault/${device.id}'] },
    ],
  });
  await t.gateway.store.policies.attach({ kind: 'segment', id: 'plant-a' }, 'hvac');
  await t.restart();
});
afterAll(async () => t.stop());

let mid = 0;
async function overMqtt(c: Case): Promise<boolean> {
  const client = await RawClient.tcp(t.port('mqtt'), 5);
  try {
    expect((await client.connect({ clientId: 'd1', username: 'd1', password: Buffer.from(d1.password!) })).reasonCode).toBe(0);
    const messageId = ++mid;
    if (c.op === 'publish') {
      client.send({ cmd: 'publish', topic: c.topic, payload: Buffer.from('1'), qos: 1, messageId, retain: false, dup: false });
      return ((await client.next('puback')).reasonCode ?? 0) < 0x80;
    }
    client.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: c.topic, qos: 0 }] });
    return Number((await client.next('suback')).granted[0]) < 0x80;
  } finally {
    client.destroy();
  }
}

async function overHttps(c: Case): Promise<boolean> {
  const path = c.op === 'publish' ? `/api/v1/publish/${c.topic}` : `/api/v1/retained/${c.topic}`;
  const r = await httpsCall(
    {
      host: '127.0.0.1', port: t.port('https'), path, method: c.op === 'publish' ? 'POST' : 'GET', ca: d1.ca, agent: false,
      headers: { authorization: `Basic ${Buffer.from(`d1:${d1.password!}`).toString('base64')}`, 'content-type': 'text/plain' },
    },
    c.op === 'publish' ? '1' : undefined,
  );
  // A read of a topic nobody retained is 404, which is an allowed read.
  return r.status === 200 || (c.op === 'read' && r.status === 404);
}

async function overCoaps(c: Case): Promise<boolean> {
  const url = `coaps://127.0.0.1:${t.port('coaps')}/ps/${c.topic}`;
  const args = c.op === 'publish' ? ['-m', 'post', '-e', '1', url] : ['-m', 'get', url];
  const r = await runTool('coap-client-openssl', ['-u', 'd1', '-k', psk, ...args], { timeoutMs: 20_000 });
  const out = r.stdout + r.stderr;
  if (out.includes('4.03')) return false;
  expect(out, `coap-client ${args.join(' ')} (exit ${String(r.code)})`).not.toMatch(/4\.0[01]|5\.\d\d/);
  return true;
}

const PROTOCOLS = { mqtt: overMqtt, https: overHttps, coaps: overCoaps } as const;

describe('one table of decisions over MQTT, HTTPS and CoAPS', () => {
  for (const c of TABLE) {
    it(`${c.op} ${c.topic} (${c.what}): ${c.allowed ? 'allowed' : 'denied'} on every protocol`, async () => {
      const answers: Record<string, boolean> = {};
      for (const [name, run] of Object.entries(PROTOCOLS)) {
        const before = (await t.gateway.store.events.last())?.id ?? 0;
        answers[name] = await run(c);
        if (!c.allowed) {
          await t.gateway.events.flush();
          const denied = (await t.gateway.store.events.list({ sinceId: before })).filter((e) => e.principal === 'd1' && /denied/.test(e.type));
          expect(denied.length, `${name}: a denial event for d1`).toBeGreaterThan(0);
        }
      }
      expect(answers).toEqual({ mqtt: c.allowed, https: c.allowed, coaps: c.allowed });
    });
  }
});
