/**
 * Queues and shadows over CoAP through a real gateway (issue 4, points 4 and 5): CoAP producer
 * -> MQTT consumer, MQTT producer -> CoAP consumer with ack, a full queue as 5.03, a shadow
 * updated over MQTT and read over CoAP, a stale version as 4.12 and another device's shadow as 4.03.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstOption, readUint } from '../../src/protocols/coap/codec.ts';
import { Code, Option } from '../../src/protocols/coap/constants.ts';
import { TestCoapClient } from './helpers/coap-client.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let c: TestCoapClient;
/** The anonymous CoAP peer's device id (udp-listener.ts): `coap-<address>-<port>`. */
let coapId: string;

beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'plant' } }, coap: { anonymous: { segment: 'plant' } } }, queues: { maxMessages: 2 } });
  await t.gateway.store.policies.put({ name: 'plant-queues', version: '2026-11', statements: [{ sid: 'jobs', effect: 'allow', actions: ['queue:*'], resources: ['cjobs-*'] }] });
  await t.gateway.store.policies.attach({ kind: 'segment', id: 'plant' }, 'plant-queues');
  await t.restart();
  c = await TestCoapClient.open(t.port('coap'));
  coapId = `coap-127.0.0.1-${c.socket.address().port}`;
});
afterAll(async () => {
  c.close();
  await t.stop();
});

async function mqtt(clientId: string): Promise<RawClient> {
  const m = await RawClient.tcp(t.port('mqtt'), 5);
  expect((await m.connect({ clientId })).reasonCode).toBe(0);
  return m;
}

describe('queues over CoAP', () => {
  it('CoAP POST -> MQTT consumer; MQTT producer -> CoAP GET with receipt and ack', async () => {
    expect((await c.request(Code.POST, '/q/cjobs-a', { payload: 'from-coap' })).code).toBe(Code.CREATED);
    const consumer = await mqtt('cq-consumer');
    consumer.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$queue/cjobs-a', qos: 1 }] });
    await consumer.next('suback');
    const m = await consumer.next('publish');
    expect(m.payload.toString()).toBe('from-coap');
    consumer.send({ cmd: 'puback', messageId: m.messageId! });
    consumer.destroy();

    const producer = await mqtt('cq-producer');
    producer.send({ cmd: 'publish', topic: '$queue/cjobs-b', payload: Buffer.from('from-mqtt'), qos: 1, messageId: 1, retain: false, dup: false });
    expect((await producer.next('puback')).reasonCode ?? 0).toBe(0);
    producer.destroy();
    const got = await c.request(Code.GET, '/q/cjobs-b');
    expect(got.code).toBe(Code.CONTENT);
    expect(readUint(firstOption(got, Option.CONTENT_FORMAT)!)).toBe(50);
    const body = JSON.parse(got.payload.toString()) as { receipt: string; payload: string; deliveries: number };
    expect(Buffer.from(body.payload, 'base64').toString()).toBe('from-mqtt');
    expect((await c.request(Code.POST, '/q/cjobs-b/ack', { payload: body.receipt })).code).toBe(Code.CHANGED);
    expect((await c.request(Code.POST, '/q/cjobs-b/ack', { payload: body.receipt })).code).toBe(Code.NOT_FOUND);
    // Empty: 2.03 without a payload.
    expect((await c.request(Code.GET, '/q/cjobs-b')).code).toBe(Code.VALID);
  });

  it('a full queue is 5.03; a queue outside the policy is 4.03', async () => {
    for (let i = 0; i < 2; i++) expect((await c.request(Code.POST, '/q/cjobs-full', { payload: `m${i}` })).code).toBe(Code.CREATED);
    expect((await c.request(Code.POST, '/q/cjobs-full', { payload: 'over' })).code).toBe(Code.SERVICE_UNAVAILABLE);
    expect((await c.request(Code.POST, '/q/other', { payload: 'x' })).code).toBe(Code.FORBIDDEN);
  });
});

describe('shadows over CoAP', () => {
  it('updated over MQTT, read over CoAP; stale version 4.12; another device 4.03', async () => {
    const dev = await mqtt(coapId);
    dev.send({ cmd: 'publish', topic: `$shadow/${coapId}/update`, payload: Buffer.from(JSON.stringify({ state: { desired: { on: true }, reported: { on: false } } })), qos: 1, messageId: 1, retain: false, dup: false });
    expect((await dev.next('puback')).reasonCode ?? 0).toBe(0);
    dev.destroy();
    const got = await c.request(Code.GET, `/shadow/${coapId}`);
    expect(got.code).toBe(Code.CONTENT);
    expect(JSON.parse(got.payload.toString())).toMatchObject({ version: 1, state: { delta: { on: true } } });
    const ok = await c.request(Code.POST, `/shadow/${coapId}`, { payload: JSON.stringify({ state: { reported: { on: true } }, version: 1 }) });
    expect(ok.code).toBe(Code.CHANGED);
    expect(JSON.parse(ok.payload.toString())).toMatchObject({ version: 2 });
    const stale = await c.request(Code.POST, `/shadow/${coapId}`, { payload: JSON.stringify({ state: { reported: { on: false } }, version: 1 }) });
    expect(stale.code).toBe(Code.PRECONDITION_FAILED);
    expect((await c.request(Code.GET, '/shadow/someone-else')).code).toBe(Code.FORBIDDEN);
  });
});
