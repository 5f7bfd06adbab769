/**
 * Queues, shadows and commands through a real gateway (issue 4, points 4 and 5): MQTT producer
 * -> HTTP consumer and HTTP producer -> MQTT consumer, full queue -> MQTT 0x97 and HTTP 503,
 * redelivery when an MQTT consumer leaves without acking, shadow updated over MQTT and read over
 * HTTP, command round trips with an MQTT 5 and a 3.1.1 device, and the 504 timeout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IPublishPacket } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/operators/tokens.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall, jsonOrText } from './helpers/https-call.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let cam: DeviceCreds;
let ca: string;
const OPERATOR_TOKEN = 'pal_t_queue-shadow-test-token-0123456789abcdef';

interface Res {
  status: number;
  body: { payload?: string; receipt?: string; code?: string; version?: number; [k: string]: unknown };
  headers: Record<string, string | string[] | undefined>;
}

/** An HTTPS call as the device `cam` (client certificate), or as the operator with `bearer`. */
async function call(method: string, path: string, body?: Buffer | string | object, opts: { bearer?: string; contentType?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  let data: Buffer | undefined;
  if (body !== undefined) {
    data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    headers['content-type'] = opts.contentType ?? (Buffer.isBuffer(body) || typeof body === 'string' ? 'application/octet-stream' : 'application/json');
  }
  const auth = opts.bearer === undefined ? { cert: cam.cert, key: cam.key } : {};
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
  const r = await httpsCall({ host: '127.0.0.1', port: t.port('https'), method, path, ca, servername: 'localhost', headers, agent: false, ...auth }, data);
  return { status: r.status, body: (jsonOrText(r.body) ?? {}) as Res['body'], headers: r.headers };
}

async function mqtt(clientId: string, version: 4 | 5 = 5): Promise<RawClient> {
  const c = await RawClient.tcp(t.port('mqtt'), version);
  const ack = await c.connect({ clientId });
  expect(ack.reasonCode ?? ack.returnCode).toBe(0);
  return c;
}

function publish(c: RawClient, topic: string, payload: string | Buffer, messageId: number, properties?: IPublishPacket['properties']): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false, ...(properties ? { properties } : {}) });
}

beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'plant' } } }, queues: { maxMessages: 3, visibilityTimeoutMs: 1500, maxDeliveries: 3 }, commands: { defaultTimeoutMs: 2000 } });
  await t.gateway.store.policies.put({
    name: 'plant-queues',
    version: '2026-11',
    statements: [{ sid: 'jobs', effect: 'allow', actions: ['queue:*'], resources: ['jobs', 'jobs-*'] }],
  });
  await t.gateway.store.policies.attach({ kind: 'segment', id: 'plant' }, 'plant-queues');
  await t.restart();
  cam = await addDevice(t, 'cam-1', 'plant');
  ca = readFileSync(join(t.dataDir, 'pki', 'ca.pem'), 'utf8');
  const now = Date.now();
  await t.gateway.store.operators.create({ username: 'ops', role: 'operator', status: 'active', passwordHash: 'unused', totpSealed: null, mfa: 'active', totpLastStep: null, createdAt: now, createdBy: null });
  await t.gateway.store.operatorTokens.create({ id: 'tok_test', operator: 'ops', kind: 'api', hash: hashToken(OPERATOR_TOKEN), name: 'test', scopes: ['devices:read', 'devices:write'], createdAt: now, expiresAt: now + 3_600_000, revokedAt: null });
});
afterAll(async () => t.stop());

async function eventTypes(): Promise<string[]> {
  await t.gateway.events.flush();
  return (await t.gateway.store.events.list({ limit: 10_000 })).map((e) => e.type);
}

describe('queues across protocols', () => {
  it('MQTT producer -> HTTP consumer: PUBACK after stored, long poll, ack', async () => {
    const producer = await mqtt('prod-1');
    publish(producer, '$queue/jobs', 'from-mqtt', 1, { contentType: 'text/plain' });
    expect((await producer.next('puback')).reasonCode ?? 0).toBe(0);
    expect((await t.gateway.store.queues.stats('jobs', Date.now())).messages).toBe(1);
    const got = await call('GET', '/api/v1/queues/jobs?wait=2');
    expect(got.status).toBe(200);
    expect(Buffer.from(got.body.payload!, 'base64').toString()).toBe('from-mqtt');
    expect(got.body).toMatchObject({ deliveries: 1, contentType: 'text/plain' });
    expect((await call('POST', '/api/v1/queues/jobs/ack', { receipt: got.body.receipt })).status).toBe(204);
    expect((await call('POST', '/api/v1/queues/jobs/ack', { receipt: got.body.receipt })).status).toBe(404);
    // Empty queue: the poll waits, then answers 204.
    const t0 = Date.now();
    expect((await call('GET', '/api/v1/queues/jobs?wait=1')).status).toBe(204);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    producer.destroy();
  });

  it('HTTP producer -> MQTT consumer ($share): QoS 1, PUBACK acks; leaving without ack redelivers', async () => {
    expect((await call('POST', '/api/v1/queues/jobs-b', 'one')).status).toBe(201);
    expect((await call('POST', '/api/v1/queues/jobs-b', 'two')).status).toBe(201);
    const c1 = await mqtt('cons-1');
    c1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/workers/$queue/jobs-b', qos: 1 }] });
    expect((await c1.next('suback')).granted).toEqual([1]);
    const m1 = await c1.next('publish');
    expect(m1).toMatchObject({ topic: '$queue/jobs-b', qos: 1 });
    expect(m1.payload.toString()).toBe('one');
    // One at a time: the second waits for the first ack.
    await c1.nothing('publish', 200);
    c1.send({ cmd: 'puback', messageId: m1.messageId! });
    const m2 = await c1.next('publish');
    expect(m2.payload.toString()).toBe('two');
    // Gone without acking: visible again at once for the next consumer, delivery count 2.
    c1.destroy();
    const c2 = await mqtt('cons-2');
    c2.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$queue/jobs-b', qos: 1 }] });
    await c2.next('suback');
    const again = await c2.next('publish', 2000);
    expect(again.payload.toString()).toBe('two');
    c2.send({ cmd: 'puback', messageId: again.messageId! });
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.gateway.store.queues.stats('jobs-b', Date.now())).messages).toBe(0);
    c2.destroy();
  });

  it('a full queue: MQTT 5 PUBACK 0x97, HTTP 503 with Retry-After, MQTT 3.1.1 closed unacked; each an event', async () => {
    for (let i = 0; i < 3; i++) expect((await call('POST', '/api/v1/queues/jobs-full', `m${i}`)).status).toBe(201);
    const r = await call('POST', '/api/v1/queues/jobs-full', 'over');
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('PAL_ERR_QUEUE_FULL');
    expect(r.headers['retry-after']).toBe('1');
    const v5 = await mqtt('prod-full');
    publish(v5, '$queue/jobs-full', 'over', 7);
    expect((await v5.next('puback')).reasonCode).toBe(0x97);
    v5.destroy();
    const v4 = await mqtt('prod-full-311', 4);
    publish(v4, '$queue/jobs-full', 'over', 8);
    await v4.waitClosed();
    expect(v4.received.some((p) => p.cmd === 'puback')).toBe(false);
    expect((await eventTypes()).filter((e) => e === 'queue.full').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses push, pull and subscribe outside the policy, with events', async () => {
    const c = await mqtt('nosy');
    publish(c, '$queue/secret', 'x', 1);
    expect((await c.next('puback')).reasonCode).toBe(0x87);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$queue/secret', qos: 1 }] });
    expect((await c.next('suback')).granted).toEqual([0x87]);
    c.destroy();
    expect((await call('GET', '/api/v1/queues/secret')).status).toBe(403);
    const types = await eventTypes();
    expect(types).toContain('queue.push_denied');
    expect(types).toContain('queue.pull_denied');
  });
});

describe('shadows across protocols', () => {
  it('an update over MQTT is accepted with a delta, and reads back over HTTP (device and operator)', async () => {
    const lamp = await mqtt('cam-1');
    lamp.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$shadow/cam-1/#', qos: 1 }] });
    expect((await lamp.next('suback')).granted).toEqual([1]);
    // A policy change re-decides live subscriptions: the shadow one stands (shadow:get), as it would on a resumed session.
    await t.gateway.store.policies.put({ name: 'unrelated', version: '2026-11', statements: [{ effect: 'allow', actions: ['mqtt:publish'], resources: ['plant/x'] }] });
    await t.gateway.store.policies.attach({ kind: 'segment', id: 'plant' }, 'unrelated');
    await new Promise((r) => setTimeout(r, 800));
    // Operator sets desired through the admin API; the device hears the delta.
    const op = await call('POST', '/api/v1/devices/cam-1/shadow', { state: { desired: { fps: 30, ir: true } } }, { bearer: OPERATOR_TOKEN });
    expect(op.status).toBe(200);
    expect(op.body.version).toBe(1);
    const delta = (await lamp.nextMatching((p) => p.cmd === 'publish' && p.topic === '$shadow/cam-1/update/delta')) as IPublishPacket;
    expect(JSON.parse(delta.payload.toString())).toMatchObject({ state: { fps: 30, ir: true }, version: 1 });
    // The device reports over MQTT.
    publish(lamp, '$shadow/cam-1/update', JSON.stringify({ state: { reported: { fps: 30, ir: false } }, version: 1, clientToken: 'c1' }), 2);
    expect((await lamp.next('puback')).reasonCode ?? 0).toBe(0);
    const accepted = (await lamp.nextMatching((p) => p.cmd === 'publish' && p.topic === '$shadow/cam-1/update/accepted' && p.payload.toString().includes('c1'))) as IPublishPacket;
    expect(JSON.parse(accepted.payload.toString())).toMatchObject({ version: 2, clientToken: 'c1' });
    // A stale version is rejected on .../update/rejected with 409.
    publish(lamp, '$shadow/cam-1/update', JSON.stringify({ state: { reported: { fps: 1 } }, version: 1 }), 3);
    const rejected = (await lamp.nextMatching((p) => p.cmd === 'publish' && p.topic === '$shadow/cam-1/update/rejected')) as IPublishPacket;
    expect(JSON.parse(rejected.payload.toString())).toMatchObject({ code: 409 });
    // Read over HTTP by the device itself and by the operator.
    const mine = await call('GET', '/api/v1/shadows/cam-1');
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ version: 2, state: { desired: { fps: 30, ir: true }, reported: { fps: 30, ir: false }, delta: { ir: true } } });
    expect((await call('GET', '/api/v1/devices/cam-1/shadow', undefined, { bearer: OPERATOR_TOKEN })).body.version).toBe(2);
    // get over MQTT.
    publish(lamp, '$shadow/cam-1/get', '', 4);
    const got = (await lamp.nextMatching((p) => p.cmd === 'publish' && p.topic === '$shadow/cam-1/get/accepted')) as IPublishPacket;
    expect((JSON.parse(got.payload.toString()) as { state: { delta: unknown } }).state.delta).toEqual({ ir: true });
    lamp.destroy();
  });

  it('refuses another device’s shadow over MQTT and HTTP, and forged reply topics', async () => {
    const other = await mqtt('pump-9');
    other.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$shadow/cam-1/#', qos: 1 }] });
    expect((await other.next('suback')).granted).toEqual([0x87]);
    publish(other, '$shadow/cam-1/update', JSON.stringify({ state: { desired: { fps: 1 } } }), 2);
    expect((await other.next('puback')).reasonCode).toBe(0x87);
    publish(other, '$shadow/pump-9/update/delta', '{}', 3);
    expect((await other.next('puback')).reasonCode).toBe(0x87);
    other.destroy();
    expect((await call('GET', '/api/v1/shadows/pump-9')).status).toBe(403);
    const types = await eventTypes();
    expect(types).toContain('shadow.update_denied');
    expect(types).toContain('shadow.reserved_topic');
  });
});

describe('commands', () => {
  it('round trip with an MQTT 5 device: response topic and correlation data', async () => {
    const dev = await mqtt('valve-5');
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$command/valve-5/#', qos: 1 }] });
    await dev.next('suback');
    const pending = call('POST', '/api/v1/devices/valve-5/commands', { name: 'open', payload: { percent: 40 }, timeoutMs: 3000 }, { bearer: OPERATOR_TOKEN });
    const cmd = await dev.next('publish');
    expect(cmd.topic).toBe('$command/valve-5/open');
    expect(JSON.parse(cmd.payload.toString())).toEqual({ percent: 40 });
    expect(cmd.properties?.responseTopic).toBe('$command/valve-5/open/reply');
    dev.send({ cmd: 'puback', messageId: cmd.messageId! });
    publish(dev, cmd.properties!.responseTopic!, 'opened', 2, { correlationData: cmd.properties!.correlationData! });
    expect((await dev.next('puback')).reasonCode ?? 0).toBe(0);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ payload: 'opened', encoding: 'utf8' });
    dev.destroy();
  });

  it('round trip with a 3.1.1 device by the topic convention; another device cannot answer for it', async () => {
    const dev = await mqtt('valve-4', 4);
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$command/valve-4/#', qos: 1 }] });
    await dev.next('suback');
    const spy = await mqtt('spy-1', 4);
    spy.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$command/valve-4/#', qos: 1 }] });
    expect((await spy.next('suback')).granted).toEqual([0x80]);
    const pending = call('POST', '/api/v1/devices/valve-4/commands', { name: 'close', payload: 'now' }, { bearer: OPERATOR_TOKEN });
    const cmd = await dev.next('publish');
    const [, , name, correlation] = cmd.topic.split('/');
    expect(name).toBe('close');
    expect(correlation).toMatch(/^[0-9a-f-]{36}$/);
    dev.send({ cmd: 'puback', messageId: cmd.messageId! });
    // A forged reply from another device is refused and does not complete the command.
    publish(spy, `${cmd.topic}/reply`, 'forged', 5);
    await spy.next('puback');
    publish(dev, `${cmd.topic}/reply`, 'closed', 2);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.payload).toBe('closed');
    dev.destroy();
    spy.destroy();
    const types = await eventTypes();
    expect(types).toContain('command.reply_denied');
  });

  it('no reply: 504 after the timeout; offline device: 409; each an admin.command event', async () => {
    const dev = await mqtt('mute-1');
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$command/mute-1/#', qos: 1 }] });
    await dev.next('suback');
    const t0 = Date.now();
    const r = await call('POST', '/api/v1/devices/mute-1/commands', { name: 'ping', timeoutMs: 500 }, { bearer: OPERATOR_TOKEN });
    expect(r.status).toBe(504);
    expect(r.body.code).toBe('PAL_ERR_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    dev.destroy();
    expect((await call('POST', '/api/v1/devices/nobody/commands', { name: 'ping' }, { bearer: OPERATOR_TOKEN })).status).toBe(409);
    await t.gateway.events.flush();
    const cmds = (await t.gateway.store.events.list({ type: 'admin.command', limit: 100 })).map((e) => ({ principal: e.principal, ...e.detail }));
    expect(cmds).toEqual(expect.arrayContaining([
      expect.objectContaining({ principal: 'operator:ops', deviceId: 'valve-5', name: 'open', outcome: 'replied' }),
      expect.objectContaining({ deviceId: 'mute-1', outcome: 'timeout' }),
      expect.objectContaining({ deviceId: 'nobody', outcome: 'offline' }),
    ]));
  });
});
