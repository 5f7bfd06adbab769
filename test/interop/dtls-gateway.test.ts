/**
 * CoAPS in the real gateway (listeners.coaps): libcoap's coap-client-openssl and
 * coap-client-gnutls against Palisade's DTLS server and CoAP endpoint, in PSK mode (the
 * device's sealed PSK) and certificate mode (the device certificate from Palisade's CA), asking
 * /.well-known/core; a revoked certificate and a wrong key are refused in the handshake and
 * recorded as dtls.handshake_failed in the gateway's event log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateDevicePsk } from '../../src/core/psk/device-psk.ts';
import { normalizeSerial } from '../../src/core/fleet/register-device.ts';
import { X509Certificate } from 'node:crypto';
import { openSecretBox } from '../../src/store/master-key.ts';
import { addDevice } from '../unit/helpers/devices.ts';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { runTool, startTool, explain } from './harness.ts';

let gw: TestGateway;
let dir: string;
let port: number;
let psk: string;
const files: Record<string, { cert: string; key: string; ca: string; serial: string }> = {};

beforeAll(async () => {
  gw = await startTestGateway({ listeners: { coaps: { enabled: true, host: '127.0.0.1', port: 0 } } });
  dir = await mkdtemp(join(tmpdir(), 'palisade-coaps-gw-'));
  for (const id of ['meter-1', 'meter-2', 'meter-3']) {
    const creds = await addDevice(gw, id, 'lab');
    const f = { cert: join(dir, `${id}.pem`), key: join(dir, `${id}.key`), ca: join(dir, 'ca.pem'), serial: normalizeSerial(new X509Certificate(creds.cert).serialNumber) };
    await writeFile(f.cert, creds.cert);
    await writeFile(f.key, creds.key, { mode: 0o600 });
    await writeFile(f.ca, creds.ca);
    files[id] = f;
  }
  psk = (await rotateDevicePsk({ devices: gw.gateway.store.devices, psks: gw.gateway.store.devicePsks, secrets: openSecretBox(gw.dataDir, gw.config.secrets) }, 'meter-1')).toString('ascii');
  port = gw.gateway.listeners.coaps!.port;
});

afterAll(async () => {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
});

const wellKnown = (): string => `coaps://127.0.0.1:${port}/.well-known/core`;
const coap = (client: string, args: string[]) => runTool(client, ['-B', '5', ...args, wellKnown()], { timeoutMs: 20_000 });

async function handshakeFailures(): Promise<Array<{ principal: string | null; detail: Record<string, unknown> }>> {
  await gw.gateway.events.flush();
  return (await gw.gateway.store.events.list({ type: 'dtls.handshake_failed' })).map((e) => ({ principal: e.principal, detail: e.detail }));
}

describe('libcoap against listeners.coaps', () => {
  for (const client of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`${client} -u/-k with the device's PSK reads /.well-known/core`, async () => {
      const r = await coap(client, ['-u', 'meter-1', '-k', psk]);
      expect(r.stdout, explain(r)).toMatch(/<\/ps>;rt="core.ps"/);
      expect(r.stdout + r.stderr).not.toMatch(/4\.01|alert/i);
    });

    it(`${client} -c/-j with the device certificate reads /.well-known/core`, async () => {
      const f = files['meter-1']!;
      const r = await coap(client, ['-c', f.cert, '-j', f.key, '-C', f.ca]);
      expect(r.stdout, explain(r)).toMatch(/<\/ps>;rt="core.ps"/);
      expect(r.stdout + r.stderr).not.toMatch(/4\.01/);
    });
  }

  it('a wrong PSK is refused in the handshake and recorded', async () => {
    const r = await coap('coap-client-openssl', ['-u', 'meter-1', '-k', 'not-the-key-0123456789abcdef']);
    expect(r.stdout).not.toMatch(/<\/[^>]*>/);
    const failures = await handshakeFailures();
    expect(failures.some((e) => e.principal === 'meter-1' && e.detail['identityKnown'] === true)).toBe(true);
  });

  it('a revoked device certificate is refused in the handshake (certificate_revoked) and recorded', async () => {
    const f = files['meter-2']!;
    expect(await gw.gateway.store.certificates.revoke(f.serial, Date.now(), 'keyCompromise')).toBe(true);
    const r = await coap('coap-client-gnutls', ['-c', f.cert, '-j', f.key, '-C', f.ca]);
    expect(r.stdout).not.toMatch(/<\/[^>]*>/);
    const failures = await handshakeFailures();
    expect(failures.some((e) => e.detail['alert'] === 'certificate_revoked')).toBe(true);
  });
});

describe('revocation of a certificate in use on a live CoAPS session', () => {
  it('ends the DTLS session and its observation within a second', async () => {
    const f = files['meter-3']!;
    const url = `coaps://127.0.0.1:${port}/ps/lab/meter-3/state`;
    const obs = startTool('stdbuf', ['-oL', '-eL', 'coap-client-openssl', '-m', 'get', '-s', '30', '-c', f.cert, '-j', f.key, '-C', f.ca, url], { timeoutMs: 40_000 });
    try {
      // The observation is live once a message published over MQTT's broker reaches the client.
      const deadline = Date.now() + 15_000;
      let seen = false;
      while (!seen && Date.now() < deadline) {
        gw.gateway.broker.publish({ topic: 'lab/meter-3/state', payload: Buffer.from('live-1'), qos: 0, retain: false, properties: {}, expiresAt: null, origin: null });
        seen = await obs.waitForOutput(/live-1/, 500).then(() => true, () => false);
      }
      expect(seen, `coap-client: ${obs.stdout} ${obs.stderr}`).toBe(true);

      expect(await gw.gateway.store.certificates.revoke(f.serial, Date.now(), 'keyCompromise')).toBe(true);
      const revokedAt = Date.now();
      let closed = 0;
      while (closed === 0 && Date.now() - revokedAt < 3000) {
        await new Promise((r) => setTimeout(r, 50));
        await gw.gateway.events.flush();
        const ev = (await gw.gateway.store.events.list({ type: 'cert.revoked' })).find((e) => e.detail['serial'] === f.serial);
        closed = Number(ev?.detail['dtlsSessionsClosed'] ?? 0);
      }
      // Polled for up to 3 s; the revocation watcher runs every 250 ms.
      expect(closed).toBe(1);
      // Nothing published after the revocation reaches the client.
      gw.gateway.broker.publish({ topic: 'lab/meter-3/state', payload: Buffer.from('after-revoke'), qos: 0, retain: false, properties: {}, expiresAt: null, origin: null });
      await new Promise((r) => setTimeout(r, 300));
      expect(obs.stdout).not.toContain('after-revoke');
    } finally {
      obs.kill();
      await obs.done;
    }
  });
});
