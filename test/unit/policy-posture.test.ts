/**
 * Posture conditions on real sessions (issue 3 point 6): days left on the client certificate
 * the device connected with over TLS, and quarantine, decide through the stored policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice } from '../../src/core/fleet/register-device.ts';
import { chainPem } from '../../src/core/pki/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { loadCa } from '../../src/store/pki-files.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
const tlsOf: Record<string, { ca: string; cert: string; key: string }> = {};

beforeAll(async () => {
  t = await startTestGateway();
  const ca = loadCa(t.dataDir, openSecretBox(t.dataDir, t.config.secrets))!;
  for (const [id, days] of [['fresh-1', 30], ['ageing-1', 5]] as const) {
    const { certificate } = await registerDevice(t.gateway.store, ca, { id, segment: 'meters', days });
    tlsOf[id] = { ca: chainPem(ca), cert: certificate.certPem, key: certificate.keyPem };
  }
  await t.gateway.store.policies.put({
    name: 'meters',
    version: '2026-11',
    statements: [
      { sid: 'connect', effect: 'allow', actions: ['mqtt:connect'], resources: ['${device.id}'] },
      { sid: 'report', effect: 'allow', actions: ['mqtt:publish'], resources: ['readings/${device.id}'], conditions: { certDaysLeftAtLeast: 7 } },
      { sid: 'not-in-quarantine', effect: 'deny', actions: ['mqtt:publish'], resources: ['readings/#'], conditions: { quarantined: true } },
    ],
  });
  await t.gateway.store.policies.attach({ kind: 'segment', id: 'meters' }, 'meters');
  await t.restart();
});
afterAll(async () => t.stop());

async function publishCode(id: string): Promise<number> {
  const c = await RawClient.tls(t.port('mqtts'), tlsOf[id]!, 5);
  expect((await c.connect({ clientId: id })).reasonCode).toBe(0);
  c.send({ cmd: 'publish', topic: `readings/${id}`, payload: Buffer.from('42'), qos: 1, messageId: 1, retain: false, dup: false });
  const code = (await c.next('puback')).reasonCode ?? 0;
  c.destroy();
  return code;
}

describe('posture conditions on live TLS sessions', () => {
  it('a grant that needs 7 days left on the certificate holds for a 30-day certificate, not a 5-day one', async () => {
    expect(await publishCode('fresh-1')).toBe(0);
    expect(await publishCode('ageing-1')).toBe(0x87);
  });

  it('the principal carries the certificate expiry and quarantine posture', async () => {
    const c = await RawClient.tls(t.port('mqtts'), tlsOf['fresh-1']!, 5);
    expect((await c.connect({ clientId: 'fresh-1' })).reasonCode).toBe(0);
    const principal = [...t.gateway.mqtt.registry.connections()].find((x) => x.clientId === 'fresh-1')?.principal;
    const serial = principal?.certSerial;
    expect(serial).toBeTruthy();
    expect(principal?.certNotAfter).toBe((await t.gateway.store.certificates.get(serial!))?.notAfter);
    expect(principal?.quarantined).toBe(false);
    c.destroy();
  });
});
