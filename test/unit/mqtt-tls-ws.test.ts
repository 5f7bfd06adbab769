import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueDeviceCertificate } from '../../src/core/pki/index.ts';
import WebSocket, { createWebSocketStream } from 'ws';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { connect as tlsConnect } from 'node:tls';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let thermo: DeviceCreds;
let other: DeviceCreds;
beforeAll(async () => {
  t = await startTestGateway({ policy: { segments: { hvac: { subscribe: ['hvac/+/telemetry'] } } } });
  thermo = await addDevice(t, 'thermostat-17', 'hvac', true);
  other = await addDevice(t, 'other-1', 'hvac');
});
afterAll(async () => t.stop());

describe('MQTT over TLS with client certificates', () => {
  it('takes the identity from the certificate and routes within policy', async () => {
    const sub = await RawClient.tls(t.port('mqtts'), { ca: other.ca, cert: other.cert, key: other.key }, 4);
    expect((await sub.connect({ clientId: 'other-1' })).returnCode).toBe(0);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hvac/+/telemetry', qos: 1 }] });
    expect((await sub.next('suback')).granted).toEqual([1]);
    const pub = await RawClient.tls(t.port('mqtts'), { ca: thermo.ca, cert: thermo.cert, key: thermo.key }, 4);
    expect((await pub.connect({ clientId: 'thermostat-17' })).returnCode).toBe(0);
    pub.send({ cmd: 'publish', topic: 'hvac/thermostat-17/telemetry', payload: Buffer.from('21.5'), qos: 1, messageId: 1, retain: false, dup: false });
    await pub.next('puback');
    expect((await sub.next('publish')).payload.toString()).toBe('21.5');
    pub.destroy();
    sub.destroy();
  });

  it('refuses a client id that is not the certificate device (0x85 / 0x02)', async () => {
    const c5 = await RawClient.tls(t.port('mqtts'), { ca: thermo.ca, cert: thermo.cert, key: thermo.key }, 5);
    expect((await c5.connect({ clientId: 'other-1' })).reasonCode).toBe(0x85);
    const c4 = await RawClient.tls(t.port('mqtts'), { ca: thermo.ca, cert: thermo.cert, key: thermo.key }, 4);
    expect((await c4.connect({ clientId: 'other-1' })).returnCode).toBe(2);
  });

  it('assigns the device id to a v5 client that sends an empty client id', async () => {
    const c = await RawClient.tls(t.port('mqtts'), { ca: thermo.ca, cert: thermo.cert, key: thermo.key }, 5);
    const ack = await c.connect({ clientId: '' });
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.assignedClientIdentifier).toBe('thermostat-17');
    c.destroy();
  });

  it('fails the handshake without a client certificate, or with one from another CA', async () => {
    await expect(RawClient.tls(t.port('mqtts'), { ca: thermo.ca }, 4).then(async (c) => c.connect({ clientId: 'x' }))).rejects.toThrow();
    const foreignCa = await createCertificateAuthority({ name: 'Mallory' });
    const forged = await issueDeviceCertificate(foreignCa, { deviceId: 'thermostat-17', segment: 'hvac' });
    await expect(RawClient.tls(t.port('mqtts'), { ca: thermo.ca, cert: forged.certPem, key: forged.keyPem }, 4).then(async (c) => c.connect({ clientId: 'thermostat-17' }))).rejects.toThrow();
    await t.gateway.events.flush();
    expect((await t.gateway.store.events.list({ type: 'tls.handshake_failed' })).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses TLS 1.1', async () => {
    const attempt = new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: t.port('mqtts'), servername: 'localhost', ca: thermo.ca, cert: thermo.cert, key: thermo.key, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' });
      s.once('secureConnect', () => {
        s.destroy();
        reject(new Error('TLS 1.1 negotiated'));
      });
      s.once('error', () => resolve());
    });
    await attempt;
  });

  it('accepts the device password on the loopback listener', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5);
    expect((await c.connect({ clientId: 'thermostat-17', username: 'thermostat-17', password: Buffer.from(thermo.password!) })).reasonCode).toBe(0);
    c.destroy();
    const bad = await RawClient.tcp(t.port('mqtt'), 5);
    expect((await bad.connect({ clientId: 'thermostat-17', username: 'thermostat-17', password: Buffer.from('wrong') })).reasonCode).toBe(0x86);
    const v4 = await RawClient.tcp(t.port('mqtt'), 4);
    expect((await v4.connect({ clientId: 'other-1', username: 'other-1', password: Buffer.from('x') })).returnCode).toBe(4);
  });
});

describe('MQTT over WebSocket', () => {
  it('speaks MQTT at /mqtt with subprotocol mqtt on the HTTPS listener, identity from the client certificate', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${t.port('https')}/mqtt`, 'mqtt', { ca: thermo.ca, cert: thermo.cert, key: thermo.key });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('mqtt');
    const stream = createWebSocketStream(ws);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const packets: Packet[] = [];
    parser.on('packet', (p: Packet) => packets.push(p));
    stream.on('data', (d: Buffer) => parser.parse(d));
    stream.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'thermostat-17' }, { protocolVersion: 5 }));
    stream.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hvac/thermostat-17/ws', qos: 0 }] }, { protocolVersion: 5 }));
    stream.write(mqttPacket.generate({ cmd: 'publish', topic: 'hvac/thermostat-17/ws', payload: Buffer.from('over-ws'), qos: 0, retain: false, dup: false }, { protocolVersion: 5 }));
    const deadline = Date.now() + 3000;
    while (!packets.some((p) => p.cmd === 'publish') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(packets.map((p) => p.cmd)).toEqual(['connack', 'suback', 'publish']);
    const pub = packets[2];
    expect(pub?.cmd === 'publish' && pub.payload.toString()).toBe('over-ws');
    ws.close();
  });

  it('answers other paths with 404', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${t.port('https')}/other`, 'mqtt', { ca: thermo.ca });
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(err.message).toMatch(/404/);
  });
});
