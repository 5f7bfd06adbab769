/**
 * Guessing enrollment tokens is brute force like guessing passwords (issue 3 point 4): each
 * refused token counts against the source address, a ban is an `enroll.banned` event, and the
 * banned address is then cut off before TLS while a device elsewhere enrolls unaffected.
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollmentService } from '../../src/core/enrollment/service.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { loadCa } from '../../src/store/pki-files.ts';
import { opensslCsr } from './enroll-fixtures.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let caPem: string;
let svc: EnrollmentService;

beforeAll(async () => {
  t = await startTestGateway({ shield: { authThrottle: { addressThreshold: 3, baseBanMs: 60_000 } } });
  const secrets = openSecretBox(t.dataDir, t.config.secrets);
  const ca = loadCa(t.dataDir, secrets)!;
  caPem = ca.issuing.certPem + ca.root.certPem;
  svc = new EnrollmentService({ store: t.gateway.store, events: t.gateway.events, ca, secrets, settings: t.config.pki });
});
afterAll(async () => t.stop());

function enroll(token: string, csrBase64: string, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: t.port('https'), localAddress, path: '/.well-known/est/simpleenroll', method: 'POST', headers: { 'content-type': 'application/pkcs10', authorization: `Bearer ${token}` }, ca: caPem, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(csrBase64);
  });
}

describe('enrollment token guessing', () => {
  it('bans the guessing address before TLS; another address enrolls with a valid token', async () => {
    const csr = opensslCsr(t.dataDir, 'guess-1', 'ec-p256');
    for (let i = 0; i < 3; i++) expect(await enroll(`wrong-token-${i}`, csr.csrBase64, '127.0.0.7')).toBe(401);
    const { token } = await svc.createToken({ deviceId: 'guess-1', segment: 'plant', ttlMs: 3_600_000 });
    // Even the right token is not looked at from the banned address: the connection is cut.
    expect(typeof (await enroll(token, csr.csrBase64, '127.0.0.7'))).toBe('string');
    const banned = await t.gateway.store.events.list({ type: 'enroll.banned' });
    expect(banned.map((e) => e.source?.split(':')[0])).toContain('127.0.0.7');
    expect(await enroll(token, csr.csrBase64, '127.0.0.8')).toBe(200);
  });
});
