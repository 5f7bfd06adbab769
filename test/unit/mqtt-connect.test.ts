import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ listeners: { mqtt: { anonymous: { segment: 'lab' } } }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } } });
});
afterAll(async () => t.stop());

describe('CONNECT', () => {
  it('accepts an anonymous v5 client on the loopback listener and assigns an empty client id', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    const ack = await c.connect({ clientId: '' });
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.assignedClientIdentifier).toMatch(/^auto-/);
    expect(ack.properties?.sharedSubscriptionAvailable).toBe(true);
    c.destroy();
  });

  it('refuses a 3.1.1 client with an empty client id and a persistent session (0x02)', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 4);
    // mqtt-packet will not encode this, so the bytes are written by hand: flags 0x00, id "".
    c.writeRaw([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00]);
    const ack = await c.next('connack');
    expect(ack.returnCode).toBe(2);
    await c.waitClosed();
  });

  it('answers an unsupported protocol level with return code 1 and closes', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 4);
    // CONNECT with protocol level 6.
    c.writeRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x61]);
    const ack = await c.next('connack');
    expect(ack.returnCode).toBe(1);
    await c.waitClosed();
  });

  it('refuses enhanced authentication with 0x8C', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    const ack = await c.connect({ clientId: 'a1', properties: { authenticationMethod: 'SCRAM-SHA-1' } });
    expect(ack.reasonCode).toBe(0x8c);
    await c.waitClosed();
  });

  it('closes a connection whose first packet is not CONNECT', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 4);
    c.send({ cmd: 'pingreq' });
    await c.waitClosed();
  });

  it('disconnects a second CONNECT with 0x82', async () => {
    const c = await RawClient.connected(t.port('mqtt'), { clientId: 'twice' });
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'twice' });
    const d = await c.next('disconnect');
    expect(d.reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('takes over a client id and closes the older connection with 0x8E [MQTT-3.1.4-3]', async () => {
    const a = await RawClient.connected(t.port('mqtt'), { clientId: 'same' });
    const b = await RawClient.connected(t.port('mqtt'), { clientId: 'same' });
    const d = await a.next('disconnect');
    expect(d.reasonCode).toBe(0x8e);
    await a.waitClosed();
    expect(b.closed).toBe(false);
    b.destroy();
  });

  it('refuses a client without credentials where no anonymous segment is configured', async () => {
    const t2 = await startTestGateway();
    try {
      const c5 = await RawClient.tcp(t2.port('mqtt'), 5);
      expect((await c5.connect({ clientId: 'x' })).reasonCode).toBe(0x87);
      const c4 = await RawClient.tcp(t2.port('mqtt'), 4);
      expect((await c4.connect({ clientId: 'x' })).returnCode).toBe(5);
      const events = await t2.gateway.store.events.list({ type: 'mqtt.connect_refused' });
      await t2.gateway.events.flush();
      const after = await t2.gateway.store.events.list({ type: 'mqtt.connect_refused' });
      expect(after.length).toBeGreaterThanOrEqual(Math.max(2, events.length));
    } finally {
      await t2.stop();
    }
  });

  it('ends a connection that never sends CONNECT after the pre-auth timeout', async () => {
    const t2 = await startTestGateway({ mqtt: { preAuthTimeoutMs: 300 } });
    try {
      const c = await RawClient.tcp(t2.port('mqtt'), 4);
      await c.waitClosed(3000);
      await t2.gateway.events.flush();
      expect((await t2.gateway.store.events.list({ type: 'mqtt.preauth_timeout' })).length).toBe(1);
    } finally {
      await t2.stop();
    }
  });

  it('enforces keep alive at one and a half times the interval', async () => {
    const c = await RawClient.connected(t.port('mqtt'), { clientId: 'ka', keepalive: 1 }, 4);
    const started = Date.now();
    await c.waitClosed(4000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('answers PINGREQ with PINGRESP', async () => {
    const c = await RawClient.connected(t.port('mqtt'), { clientId: 'ping' }, 4);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    c.destroy();
  });

  it('sends a Server Keep Alive when the client asks for none (v5)', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    const ack = await c.connect({ clientId: 'ka0', keepalive: 0 });
    expect(ack.properties?.serverKeepAlive).toBe(3600);
    c.destroy();
  });
});
