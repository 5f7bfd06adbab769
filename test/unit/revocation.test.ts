import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';
import { normalizeSerial } from '../../src/core/fleet/register-device.ts';
import { certificateInfo } from '../../src/core/pki/index.ts';
import * as x509 from '../../src/core/pki/x509.ts';

const run = promisify(execFile);
let t: TestGateway;
let cam: DeviceCreds;
let other: DeviceCreds;
beforeAll(async () => {
  t = await startTestGateway();
  cam = await addDevice(t, 'cam-7', 'video');
  other = await addDevice(t, 'cam-8', 'video');
});
afterAll(async () => t.stop());

describe('revocation that bites', () => {
  it('closes a live TLS session within a second of `palisade cert revoke`, refuses it after, and lists it on the CRL', async () => {
    const live = await RawClient.tls(t.port('mqtts'), { ca: cam.ca, cert: cam.cert, key: cam.key }, 5);
    expect((await live.connect({ clientId: 'cam-7', keepalive: 60 })).reasonCode).toBe(0);
    const bystander = await RawClient.tls(t.port('mqtts'), { ca: other.ca, cert: other.cert, key: other.key }, 4);
    expect((await bystander.connect({ clientId: 'cam-8' })).returnCode).toBe(0);

    const serial = normalizeSerial(certificateInfo(cam.cert).serial);
    const r = await run(process.execPath, ['src/cli/main.ts', 'cert', 'revoke', serial, '--reason', 'keyCompromise', '--data-dir', t.dataDir], { timeout: 20_000 });
    expect(r.stdout).toMatch(/^revoked /);
    const revokedAt = Date.now();

    const d = await live.next('disconnect', 3000);
    expect(d.reasonCode).toBe(0x98);
    await live.waitClosed();
    // The CLI's process start is not counted: from the store write to the close.
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect(bystander.closed).toBe(false);

    const again = await RawClient.tls(t.port('mqtts'), { ca: cam.ca, cert: cam.cert, key: cam.key }, 5);
    expect((await again.connect({ clientId: 'cam-7' })).reasonCode).toBe(0x87);

    const der = await new Promise<Buffer>((resolve, reject) => {
      void import('node:https').then(({ get }) => {
        get({ host: '127.0.0.1', port: t.port('https'), path: '/pki/crl', ca: cam.ca, servername: 'localhost' }, (resp) => {
          expect(resp.headers['content-type']).toBe('application/pkix-crl');
          const chunks: Buffer[] = [];
          resp.on('data', (c: Buffer) => chunks.push(c));
          resp.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject);
      });
    });
    const crl = new x509.X509Crl(der);
    expect(crl.entries.map((e) => normalizeSerial(e.serialNumber))).toEqual([serial]);
    expect(crl.entries[0]?.reason).toBe(x509.X509CrlReason.keyCompromise);

    await t.gateway.events.flush();
    const events = await t.gateway.store.events.list({ type: 'cert.revoked_session_closed' });
    expect(events).toHaveLength(1);
    expect(events[0]?.principal).toBe('cam-7');
    bystander.destroy();
  });

  it('refuses to revoke a CA certificate or an unknown serial with one line', async () => {
    const unknown = await run(process.execPath, ['src/cli/main.ts', 'cert', 'revoke', 'abcdef', '--data-dir', t.dataDir]).catch((e: { stderr: string; code: number }) => e);
    expect('code' in unknown && unknown.code).toBe(1);
    expect((unknown as { stderr: string }).stderr.trim()).toBe('palisade: no certificate with serial abcdef');
  });
});
