/**
 * EST (RFC 7030) and the JSON enrollment routes through a real gateway's HTTPS listener, with
 * real TLS (client certificates requested, not required) and CSRs made by openssl.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EnrollmentService } from '../../src/core/enrollment/service.ts';
import { DAY_MS } from '../../src/core/pki/ca.ts';
import type { CertificateAuthority } from '../../src/core/pki/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { loadCa } from '../../src/store/pki-files.ts';
import { opensslCsr, type OpensslCsr } from './enroll-fixtures.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let ca: CertificateAuthority;
let caPem: string;
let svc: EnrollmentService;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; cert?: string; key?: string } = {}): Promise<Reply> {
  const r = await httpsCall({ host: '127.0.0.1', port: t.port('https'), path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, ca: caPem, ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}), agent: false }, opts.body);
  return { status: r.status, headers: r.headers, body: r.body.toString('utf8') };
}

function simpleenroll(csr: OpensslCsr, headers: Record<string, string> = {}, tls: { cert?: string; key?: string } = {}, path = '/.well-known/est/simpleenroll'): Promise<Reply> {
  return call(path, { method: 'POST', headers: { 'content-type': 'application/pkcs10', ...headers }, body: csr.csrBase64, ...tls });
}

/** Certificates of a base64 certs-only PKCS#7, as printed by `openssl pkcs7 -print_certs`. */
function pkcs7Certs(base64: string): X509Certificate[] {
  const der = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  const pem = execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], { input: der }).toString('utf8');
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

/** CONNACK return code, or 'tls-refused' when the server ends the TLS session first. */
async function mqttConnectCode(cert: string, key: string, clientId: string): Promise<number | 'tls-refused'> {
  let c: RawClient;
  try {
    c = await RawClient.tls(t.port('mqtts'), { ca: caPem, cert, key }, 4);
  } catch {
    return 'tls-refused';
  }
  try {
    return (await c.connect({ clientId })).returnCode ?? -1;
  } catch {
    // TLS 1.3: the server verifies the client certificate after the client's handshake is done.
    return 'tls-refused';
  } finally {
    c.destroy();
  }
}

/** Runs `fn` as if it were `at` (epoch ms): certificates issued inside get that notBefore. */
async function asOf<T>(at: number, fn: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(Date, 'now').mockReturnValue(at);
  try {
    return await fn();
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  t = await startTestGateway({ policy: { segments: { plant: { publish: ['plant/#'] } } } });
  const secrets = openSecretBox(t.dataDir, t.config.secrets);
  const loaded = loadCa(t.dataDir, secrets);
  if (!loaded) throw new Error('no CA');
  ca = loaded;
  caPem = ca.issuing.certPem + ca.root.certPem;
  svc = new EnrollmentService({ store: t.gateway.store, events: t.gateway.events, ca, secrets, settings: t.config.pki });
});
afterAll(async () => t.stop());

describe('EST cacerts (RFC 7030 §4.1.3)', () => {
  it('serves the issuing and root CA as base64 certs-only PKCS#7', async () => {
    const r = await call('/.well-known/est/cacerts');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/pkcs7-mime/);
    const certs = pkcs7Certs(r.body);
    expect(certs.map((c) => c.subject.split('\n').find((l) => l.startsWith('CN=')))).toEqual(['CN=Palisade Issuing CA', 'CN=Palisade Root CA']);
  });
});

describe('EST simpleenroll (RFC 7030 §4.2.1)', () => {
  it('enrolls with a Bearer token once; the certificate names the token\'s device and connects over mqtts', async () => {
    const { token } = await svc.createToken({ deviceId: 'est-1', segment: 'plant', ttlMs: 3_600_000 });
    const csr = opensslCsr(t.dataDir, 'est-1', 'ec-p256');
    const r = await simpleenroll(csr, { authorization: `Bearer ${token}` });
    expect(r.status, r.body).toBe(200);
    expect(r.headers['content-type']).toBe('application/pkcs7-mime; smime-type=certs-only');
    const [cert, ...rest] = pkcs7Certs(r.body);
    expect(rest).toHaveLength(0);
    expect(cert?.subjectAltName).toBe('URI:urn:palisade:device:est-1');
    expect(Math.round(((cert ? Date.parse(cert.validTo) : 0) - (cert ? Date.parse(cert.validFrom) : 0)) / DAY_MS)).toBe(30);
    expect(await mqttConnectCode(cert?.toString() ?? '', csr.keyPem, 'est-1')).toBe(0);

    const again = await simpleenroll(csr, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(401);
    expect(again.headers['content-type']).toMatch(/^text\/plain/);
    expect(again.body).toMatch(/already used/);
    // Two challenges (RFC 9110 §11.6.1); Node joins repeated headers with ", ".
    expect(again.headers['www-authenticate']).toBe('Bearer realm="palisade-est", Basic realm="palisade-est"');
  });

  it('accepts the token as the HTTP Basic password', async () => {
    const { token } = await svc.createToken({ deviceId: 'est-basic', segment: 'plant', ttlMs: 3_600_000 });
    const r = await simpleenroll(opensslCsr(t.dataDir, 'est-basic', 'ed25519'), { authorization: `Basic ${Buffer.from(`est-basic:${token}`).toString('base64')}` });
    expect(r.status, r.body).toBe(200);
    expect(pkcs7Certs(r.body)[0]?.subjectAltName).toBe('URI:urn:palisade:device:est-basic');
  });

  it('answers 401 without credentials and 400 for a weak key, which leaves the token unused', async () => {
    const csr = opensslCsr(t.dataDir, 'est-none', 'ec-p256');
    const none = await simpleenroll(csr);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBeDefined();
    const { token, record } = await svc.createToken({ deviceId: 'est-weak', segment: 'plant', ttlMs: 3_600_000 });
    const weak = await simpleenroll(opensslCsr(t.dataDir, 'est-weak', 'rsa-1024'), { authorization: `Bearer ${token}` });
    expect(weak.status).toBe(400);
    expect(weak.body).toMatch(/RSA key of 1024 bits is too weak/);
    expect((await t.gateway.store.enrollment.getToken(record.id))?.usedAt).toBeNull();
    const notBase64 = await call('/.well-known/est/simpleenroll', { method: 'POST', headers: { 'content-type': 'application/pkcs10', authorization: `Bearer ${token}` }, body: '%%%' });
    expect(notBase64.status).toBe(400);
  });

  it('enrolls with a bootstrap client certificate, which itself cannot connect to MQTT', async () => {
    const { certificate: boot } = await svc.issueBootstrap({ deviceId: 'est-boot', segment: 'plant' });
    // The bootstrap certificate passes TLS (our CA) but names no device: CONNECT is refused (not authorised, 5).
    expect(await mqttConnectCode(boot.certPem, boot.keyPem, 'est-boot')).toBe(5);
    await t.gateway.events.flush();
    const csr = opensslCsr(t.dataDir, 'est-boot', 'ec-p384');
    const r = await simpleenroll(csr, {}, { cert: boot.certPem, key: boot.keyPem });
    expect(r.status, r.body).toBe(200);
    const [cert] = pkcs7Certs(r.body);
    expect(cert?.subjectAltName).toBe('URI:urn:palisade:device:est-boot');
    expect(await mqttConnectCode(cert?.toString() ?? '', csr.keyPem, 'est-boot')).toBe(0);
    // A bootstrap certificate does not re-enroll.
    const re = await simpleenroll(csr, {}, { cert: boot.certPem, key: boot.keyPem }, '/.well-known/est/simplereenroll');
    expect(re.status).toBe(403);
  });
});

describe('EST simplereenroll (RFC 7030 §4.2.2)', () => {
  async function deviceCertAt(id: string, issuedAt: number): Promise<{ cert: string; csr: OpensslCsr }> {
    const csr = opensslCsr(t.dataDir, `${id}-${issuedAt}`, 'ec-p256');
    const { certificate } = await asOf(issuedAt, () => svc.signCsr({ deviceId: id, csrPem: csr.csrPem, days: 30 }));
    return { cert: certificate.certPem, csr };
  }

  beforeAll(async () => {
    await svc.createToken({ deviceId: 'renew', segment: 'plant', ttlMs: 3_600_000 });
  });

  it('refuses a certificate before two thirds of its lifetime with 409 and the opening time', async () => {
    const { cert, csr } = await deviceCertAt('renew', Date.now() - 5 * DAY_MS);
    const r = await simpleenroll(csr, {}, { cert, key: csr.keyPem }, '/.well-known/est/simplereenroll');
    expect(r.status).toBe(409);
    expect(r.body).toMatch(/re-enrollment opens at \d{4}-/);
  });

  it('re-enrolls from two thirds of the lifetime; the new certificate connects, the old stays valid', async () => {
    const { cert, csr } = await deviceCertAt('renew', Date.now() - 21 * DAY_MS);
    const fresh = opensslCsr(t.dataDir, 'renew-new', 'ec-p256');
    const r = await simpleenroll(fresh, {}, { cert, key: csr.keyPem }, '/.well-known/est/simplereenroll');
    expect(r.status, r.body).toBe(200);
    const [next] = pkcs7Certs(r.body);
    expect(next?.subjectAltName).toBe('URI:urn:palisade:device:renew');
    expect(await mqttConnectCode(next?.toString() ?? '', fresh.keyPem, 'renew')).toBe(0);
    expect(await mqttConnectCode(cert, csr.keyPem, 'renew')).toBe(0);
  });

  it('accepts a certificate expired within the grace period (the handshake would not), refuses one past it', async () => {
    const expired = await deviceCertAt('renew', Date.now() - 33 * DAY_MS);
    // MQTT's TLS refuses the expired certificate...
    expect(await mqttConnectCode(expired.cert, expired.csr.keyPem, 'renew')).toBe('tls-refused');
    // ...but re-enrollment within 7 days of expiry works.
    const r = await simpleenroll(opensslCsr(t.dataDir, 'renew-grace', 'ec-p256'), {}, { cert: expired.cert, key: expired.csr.keyPem }, '/.well-known/est/simplereenroll');
    expect(r.status, r.body).toBe(200);
    const late = await deviceCertAt('renew', Date.now() - 40 * DAY_MS);
    const r2 = await simpleenroll(opensslCsr(t.dataDir, 'renew-late', 'ec-p256'), {}, { cert: late.cert, key: late.csr.keyPem }, '/.well-known/est/simplereenroll');
    expect(r2.status).toBe(403);
    expect(r2.body).toMatch(/expired more than 7 day/);
  });

  it('needs a client certificate', async () => {
    const r = await simpleenroll(opensslCsr(t.dataDir, 'renew-nocert', 'ec-p256'), {}, {}, '/.well-known/est/simplereenroll');
    expect(r.status).toBe(401);
  });
});

describe('JSON enrollment (POST /api/v1/enroll)', () => {
  it('returns the certificate and chain as PEM for a token; JSON errors otherwise', async () => {
    const { token } = await svc.createToken({ deviceId: 'rest-1', segment: 'plant', ttlMs: 3_600_000 });
    const csr = opensslCsr(t.dataDir, 'rest-1', 'rsa-2048');
    const body = JSON.stringify({ csr: csr.csrPem });
    const r = await call('/api/v1/enroll', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    expect(r.status, r.body).toBe(200);
    const json = JSON.parse(r.body) as { certificate: string; chain: string; deviceId: string };
    expect(json.deviceId).toBe('rest-1');
    expect(new X509Certificate(json.certificate).subjectAltName).toBe('URI:urn:palisade:device:rest-1');
    expect(json.chain).toBe(caPem);
    const again = await call('/api/v1/enroll', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toMatchObject({ code: 'PAL_ERR_AUTH_FAILED' });
    const extra = await call('/api/v1/enroll', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ csr: csr.csrPem, deviceId: 'admin' }) });
    expect(extra.status).toBe(400);
  });
});
