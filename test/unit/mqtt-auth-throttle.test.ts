import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let dev: DeviceCreds;
beforeAll(async () => {
  t = await startTestGateway({ shield: { authThrottle: { addressThreshold: 3, usernameThreshold: 4, baseBanMs: 60_000 } } });
  dev = await addDevice(t, 'meter-9', 'power', true);
});
afterAll(async () => t.stop());

/** The CONNACK reason code, or 'closed' when the server dropped the connection unanswered. */
async function login(from: string, password: string): Promise<number | 'closed'> {
  const c = await RawClient.tcp(t.port('mqtt'), 5, from);
  const closed = c.waitClosed(3000).then(() => 'closed' as const);
  const ack = c.connect({ clientId: 'meter-9', username: 'meter-9', password: Buffer.from(password) }).then((a) => a.reasonCode ?? -1);
  const result = await Promise.race([ack, closed]);
  c.destroy();
  return result;
}

describe('brute-force protection', () => {
  it('bans an address after repeated failures, before hashing, and then before any MQTT work', async () => {
    expect(await login('127.0.0.1', dev.password!)).toBe(0);
    for (let i = 0; i < 3; i++) expect(await login('127.0.0.2', 'guess-' + i)).toBe(0x86);
    // Even the right password gets nowhere now: the address is dropped at accept.
    expect(await login('127.0.0.2', dev.password!)).toBe('closed');
    await t.gateway.events.flush();
    const types = (await t.gateway.store.events.list()).map((e) => e.type);
    expect(types).toContain('auth.banned');
    expect(types).toContain('shield.banned_address');
  });

  it('stops stuffing one device from many addresses, but not the device from its known address', async () => {
    // Three failures for meter-9 above; the fourth, from a new address, bans the username.
    expect(await login('127.0.0.3', 'x1')).toBe(0x86);
    // New addresses are now refused for meter-9 before hashing, even with the right password.
    expect(await login('127.0.0.4', 'x2')).toBe(0x8a);
    expect(await login('127.0.0.5', dev.password!)).toBe(0x8a);
    // The address that logged in correctly before is unaffected.
    expect(await login('127.0.0.1', dev.password!)).toBe(0);
    await t.gateway.events.flush();
    const throttled = await t.gateway.store.events.list({ type: 'auth.throttled' });
    expect(throttled.map((e) => e.source?.split(':')[0])).toEqual(['127.0.0.4', '127.0.0.5']);
  });

  it('drops a banned address at TCP accept on the TLS listener, before the handshake', async () => {
    await t.gateway.events.flush();
    const before = (await t.gateway.store.events.list({ type: 'shield.banned_address' })).length;
    const { connect } = await import('node:tls');
    const { connect: tcp } = await import('node:net');
    const err = await new Promise<string>((resolve) => {
      const raw = tcp({ host: '127.0.0.1', port: t.port('mqtts'), localAddress: '127.0.0.2' });
      const s = connect({ socket: raw, ca: dev.ca, cert: dev.cert, key: dev.key, servername: 'localhost' });
      s.once('secureConnect', () => resolve('handshake completed'));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(err).not.toBe('handshake completed');
    await t.gateway.events.flush();
    expect((await t.gateway.store.events.list({ type: 'shield.banned_address' })).length).toBe(before + 1);
  });
});
