import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

// The gateway enforces the policy language: a stored policy document attached to a segment,
// with a source-address condition, decides what the broker allows.
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'plant' } } } });
  await t.gateway.store.policies.put({
    name: 'plant-telemetry',
    version: '2026-11',
    statements: [
      { sid: 'read-all', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: ['plant/+/telemetry'] },
      { sid: 'local-only', effect: 'allow', actions: ['mqtt:publish'], resources: ['plant/shared/${device.id}'], conditions: { sourceCidr: ['127.0.0.2/32'] } },
      { sid: 'no-secrets', effect: 'deny', actions: ['mqtt:*'], resources: ['plant/secret/vault/#'] },
    ],
  });
  await t.gateway.store.policies.attach({ kind: 'segment', id: 'plant' }, 'plant-telemetry');
  await t.restart();
});
afterAll(async () => t.stop());

describe('policy language in the broker', () => {
  it('applies stored statements, conditions and deny-overrides to live MQTT traffic', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5, '127.0.0.2');
    expect((await c.connect({ clientId: 'pump-1' })).reasonCode).toBe(0);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plant/+/telemetry', qos: 0 }, { topic: 'plant/secret/vault/#', qos: 0 }, { topic: 'plant/#', qos: 0 }] });
    expect((await c.next('suback')).granted).toEqual([0, 0x87, 0x87]);
    c.send({ cmd: 'publish', topic: 'plant/shared/pump-1', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false });
    expect((await c.next('puback')).reasonCode ?? 0).toBe(0);
    c.destroy();
    // The same device from another address does not meet the sourceCidr condition.
    const other = await RawClient.tcp(t.port('mqtt'), 5, '127.0.0.3');
    expect((await other.connect({ clientId: 'pump-1' })).reasonCode).toBe(0);
    other.send({ cmd: 'publish', topic: 'plant/shared/pump-1', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false });
    expect((await other.next('puback')).reasonCode).toBe(0x87);
    other.destroy();
  });
});
