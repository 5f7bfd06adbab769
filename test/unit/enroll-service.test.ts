/**
 * Enrollment in core against a real SQLite store and CA (issue 3, point 1): CSR signing with
 * openssl-made CSRs and the key policy, one-time tokens (sealed, single use under a race,
 * expiry, events), bootstrap certificates, the re-enrollment window, and key rotation.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateMasterKey } from '../../src/cli/keys.ts';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { EnrollmentTokens } from '../../src/core/enrollment/tokens.ts';
import { createCertificateAuthority, deviceIdFromSan, issueDeviceCertificate } from '../../src/core/pki/index.ts';
import { DAY_MS } from '../../src/core/pki/ca.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { SECRETS_SETTINGS, enrollWorld, opensslCsr, type EnrollWorld, type KeyKind } from './enroll-fixtures.ts';

let w: EnrollWorld;

beforeAll(async () => {
  w = await enrollWorld();
});

afterAll(async () => {
  await w.close();
});

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(isPalisadeError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  return caught as Error;
}

async function eventsOf(type: string): Promise<{ principal: string | null; detail: Record<string, unknown> }[]> {
  await w.events.flush();
  return (await w.store.events.list({ type })).map((e) => ({ principal: e.principal, detail: e.detail }));
}

function sanOf(pem: string): string | undefined {
  return new X509Certificate(pem).subjectAltName;
}

describe('CSR signing (operator) and the key policy, with CSRs made by openssl req', () => {
  beforeAll(async () => {
    await w.service().createToken({ deviceId: 'cli-dev', segment: 'lab', ttlMs: 3_600_000 });
  });

  it.each<KeyKind>(['rsa-1024', 'ec-secp256k1', 'ec-p521'])('refuses a %s key', async (kind) => {
    const csr = opensslCsr(w.dir, `weak-${kind}`, kind);
    const err = await rejectsWith(w.service().signCsr({ deviceId: 'cli-dev', csrPem: csr.csrPem }), ErrorCodes.PKI_FAILURE);
    expect(err.message).toMatch(/too weak|not accepted/);
    expect((await eventsOf('enroll.refused')).some((e) => e.detail['reason'] === err.message)).toBe(true);
  });

  it.each<KeyKind>(['rsa-2048', 'ec-p256', 'ec-p384', 'ed25519'])('accepts a %s key; the certificate names the authorised device, 30 days', async (kind) => {
    const csr = opensslCsr(w.dir, `ok-${kind}`, kind);
    const { certificate } = await w.service().signCsr({ deviceId: 'cli-dev', csrPem: csr.csrPem });
    expect(certificate.keyPem).toBeNull();
    const x = new X509Certificate(certificate.certPem);
    // The CSR asked for CN=admin and device "admin": ignored.
    expect(x.subjectAltName).toBe('URI:urn:palisade:device:cli-dev');
    expect(x.subject).toContain('CN=cli-dev');
    expect(x.subject).not.toContain('admin');
    expect(Math.round((certificate.notAfter - certificate.notBefore) / DAY_MS)).toBe(30);
    // The device's own key is what was certified.
    expect(x.publicKey.export({ format: 'pem', type: 'spki' })).toBe(new X509Certificate(certificate.certPem).publicKey.export({ format: 'pem', type: 'spki' }));
    expect(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(csr.keyPem))).toBe(true);
    const record = await w.store.certificates.get(certificate.serial);
    expect(record?.deviceId).toBe('cli-dev');
    expect(record?.kind).toBe('device');
  });

  it('refuses a CSR whose signature does not verify (no proof of possession)', async () => {
    const csr = opensslCsr(w.dir, 'tampered', 'ec-p256');
    const der = Buffer.from(csr.csrBase64, 'base64');
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // inside the signature
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;
    await rejectsWith(w.service().signCsr({ deviceId: 'cli-dev', csrPem: pem }), ErrorCodes.PKI_FAILURE);
  });

  it('refuses an unregistered device', async () => {
    const csr = opensslCsr(w.dir, 'nodev', 'ec-p256');
    await rejectsWith(w.service().signCsr({ deviceId: 'nobody', csrPem: csr.csrPem }), ErrorCodes.ENROLLMENT_REFUSED);
  });
});

describe('one-time enrollment tokens', () => {
  it('registers a new device, stores the token only sealed and hashed, and enrolls once', async () => {
    const svc = w.service();
    const { token, record, registered } = await svc.createToken({ deviceId: 'tok-1', segment: 'plant', ttlMs: 86_400_000 });
    expect(registered).toBe(true);
    expect(token).toMatch(/^pet_[A-Za-z0-9_-]{43}$/);
    expect((await w.store.devices.get('tok-1'))?.segment).toBe('plant');
    // Neither the database file nor its WAL holds the token in clear.
    await w.events.flush();
    const raw = Buffer.concat([readFileSync(join(w.dir, 'palisade.db')), readFileSync(join(w.dir, 'palisade.db-wal'))]);
    expect(raw.includes(Buffer.from(token))).toBe(false);
    expect(record.sealed).toMatch(/^\S+$/);
    expect(record.lookup).toMatch(/^[0-9a-f]{64}$/);

    const csr = opensslCsr(w.dir, 'tok-1', 'ec-p256');
    const { certificate, deviceId } = await svc.enrollWithToken(token, csr.csrPem, '10.0.0.5:4000');
    expect(deviceId).toBe('tok-1');
    expect(sanOf(certificate.certPem)).toBe('URI:urn:palisade:device:tok-1');
    expect(new X509Certificate(certificate.certPem).subject).toContain('OU=plant');
    const stored = await w.store.enrollment.getToken(record.id);
    expect(stored?.usedFor).toBe(certificate.serial);

    const again = await rejectsWith(svc.enrollWithToken(token, csr.csrPem, '10.0.0.5:4001'), ErrorCodes.AUTH_FAILED);
    expect(again.message).toMatch(/already used/);
    const used = await eventsOf('enroll.token_used');
    expect(used.some((e) => e.principal === 'tok-1' && e.detail['tokenId'] === record.id)).toBe(true);
    const refusedEvents = await eventsOf('enroll.token_refused');
    expect(refusedEvents.some((e) => e.detail['reason'] === 'already used' && e.detail['tokenId'] === record.id)).toBe(true);
    // No event anywhere carries the token.
    const all = await w.store.events.list({});
    expect(JSON.stringify(all)).not.toContain(token);
  });

  it('a bad CSR does not consume the token', async () => {
    const svc = w.service();
    const { token, record } = await svc.createToken({ deviceId: 'tok-2', segment: 'plant', ttlMs: 3_600_000 });
    await rejectsWith(svc.enrollWithToken(token, opensslCsr(w.dir, 'tok-2-weak', 'rsa-1024').csrPem, null), ErrorCodes.PKI_FAILURE);
    expect((await w.store.enrollment.getToken(record.id))?.usedAt).toBeNull();
    await svc.enrollWithToken(token, opensslCsr(w.dir, 'tok-2', 'ed25519').csrPem, null);
  });

  it('is single use under a race: of ten concurrent enrollments exactly one succeeds', async () => {
    const svc = w.service();
    const { token } = await svc.createToken({ deviceId: 'tok-race', segment: 'plant', ttlMs: 3_600_000 });
    const csr = opensslCsr(w.dir, 'tok-race', 'ec-p256').csrPem;
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => w.service().enrollWithToken(token, csr, null)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe(ErrorCodes.AUTH_FAILED);
    expect((await w.store.certificates.listByDevice('tok-race')).filter((c) => c.kind === 'device')).toHaveLength(1);
  });

  it('expires', async () => {
    const svc = w.service();
    const { token } = await svc.createToken({ deviceId: 'tok-exp', segment: 'plant', ttlMs: 60_000 });
    w.clock.now += 61_000;
    try {
      const err = await rejectsWith(svc.enrollWithToken(token, opensslCsr(w.dir, 'tok-exp', 'ec-p256').csrPem, null), ErrorCodes.AUTH_FAILED);
      expect(err.message).toMatch(/expired/);
    } finally {
      w.clock.now = Date.now();
    }
  });

  it('refuses unknown and malformed tokens, and a disabled device', async () => {
    const csr = opensslCsr(w.dir, 'tok-unknown', 'ec-p256').csrPem;
    await rejectsWith(w.service().enrollWithToken(`pet_${'A'.repeat(43)}`, csr, null), ErrorCodes.AUTH_FAILED);
    await rejectsWith(w.service().enrollWithToken('garbage', csr, null), ErrorCodes.AUTH_FAILED);
    const { token } = await w.service().createToken({ deviceId: 'tok-dis', segment: 'plant', ttlMs: 3_600_000 });
    await w.store.devices.update('tok-dis', { status: 'disabled' });
    await rejectsWith(w.service().enrollWithToken(token, csr, null), ErrorCodes.AUTH_DEVICE_DISABLED);
  });

  it('needs --segment for a new device and refuses a segment that contradicts the registry', async () => {
    await rejectsWith(w.service().createToken({ deviceId: 'no-seg', ttlMs: 3_600_000 }), ErrorCodes.INVALID_ARGUMENT);
    await rejectsWith(w.service().createToken({ deviceId: 'tok-1', segment: 'other', ttlMs: 3_600_000 }), ErrorCodes.INVALID_ARGUMENT);
    await rejectsWith(w.service().createToken({ deviceId: 'tok-1', ttlMs: 10 }), ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('bootstrap certificates', () => {
  it('carry urn:palisade:bootstrap:<id>, which the device identity path does not accept, and enroll only their device', async () => {
    const svc = w.service();
    const { certificate, registered } = await svc.issueBootstrap({ deviceId: 'boot-1', segment: 'line', days: 7 });
    expect(registered).toBe(true);
    const x = new X509Certificate(certificate.certPem);
    expect(x.subjectAltName).toBe('URI:urn:palisade:bootstrap:boot-1');
    expect(deviceIdFromSan(x.subjectAltName)).toBeNull();
    expect((await w.store.certificates.get(certificate.serial))?.kind).toBe('bootstrap');

    const { certificate: issued, deviceId } = await svc.enrollWithBootstrap(x.raw, opensslCsr(w.dir, 'boot-1', 'ec-p384').csrPem, null);
    expect(deviceId).toBe('boot-1');
    expect(sanOf(issued.certPem)).toBe('URI:urn:palisade:device:boot-1');
    expect((await eventsOf('enroll.bootstrap_used')).some((e) => e.principal === 'boot-1')).toBe(true);

    // It cannot re-enroll, and once revoked it cannot enroll either.
    await rejectsWith(svc.reenroll(x.raw, opensslCsr(w.dir, 'boot-1b', 'ec-p256').csrPem, null), ErrorCodes.ENROLLMENT_REFUSED);
    await w.store.certificates.revoke(certificate.serial, Date.now(), 'cessationOfOperation');
    await rejectsWith(svc.enrollWithBootstrap(x.raw, opensslCsr(w.dir, 'boot-1c', 'ec-p256').csrPem, null), ErrorCodes.CERT_REVOKED);
  });

  it('a device certificate is not a bootstrap certificate', async () => {
    const csr = opensslCsr(w.dir, 'dev-as-boot', 'ec-p256');
    const { certificate } = await w.service().signCsr({ deviceId: 'boot-1', csrPem: csr.csrPem });
    await rejectsWith(w.service().enrollWithBootstrap(new X509Certificate(certificate.certPem).raw, csr.csrPem, null), ErrorCodes.ENROLLMENT_REFUSED);
  });

  it('an expired bootstrap certificate is refused', async () => {
    const svc = w.service();
    const { certificate } = await svc.issueBootstrap({ deviceId: 'boot-2', segment: 'line', days: 1 });
    w.clock.now = certificate.notAfter + 1000;
    try {
      await rejectsWith(svc.enrollWithBootstrap(new X509Certificate(certificate.certPem).raw, opensslCsr(w.dir, 'boot-2', 'ec-p256').csrPem, null), ErrorCodes.ENROLLMENT_REFUSED);
    } finally {
      w.clock.now = Date.now();
    }
  });
});

describe('re-enrollment window', () => {
  let current: { der: Buffer; notBefore: number; notAfter: number; serial: string };
  const csr = (): string => opensslCsr(w.dir, 'renew', 'ec-p256').csrPem;

  beforeAll(async () => {
    await w.service().createToken({ deviceId: 'renew-1', segment: 'lab', ttlMs: 3_600_000 });
    const { certificate } = await w.service().signCsr({ deviceId: 'renew-1', csrPem: csr(), days: 30 });
    current = { der: new X509Certificate(certificate.certPem).raw, notBefore: certificate.notBefore, notAfter: certificate.notAfter, serial: certificate.serial };
  });

  it('is refused before two thirds of the lifetime, with the opening time', async () => {
    w.clock.now = current.notBefore + (current.notAfter - current.notBefore) / 2;
    const err = await rejectsWith(w.service().reenroll(current.der, csr(), null), ErrorCodes.REENROLL_TOO_EARLY);
    expect(err.message).toMatch(/re-enrollment opens at \d{4}-\d\d-\d\dT/);
    expect((await eventsOf('enroll.reenroll_refused')).some((e) => e.detail['code'] === ErrorCodes.REENROLL_TOO_EARLY)).toBe(true);
  });

  it('is allowed from two thirds on, issues a new certificate, and the old one stays on record unrevoked', async () => {
    w.clock.now = current.notBefore + Math.ceil(((current.notAfter - current.notBefore) * 2) / 3) + 1000;
    const r = await w.service().reenroll(current.der, csr(), '10.1.1.1:5000');
    expect(r.previousSerial).toBe(current.serial);
    expect(r.certificate.serial).not.toBe(current.serial);
    expect(sanOf(r.certificate.certPem)).toBe('URI:urn:palisade:device:renew-1');
    expect((await w.store.certificates.get(current.serial))?.revokedAt).toBeNull();
    expect((await eventsOf('enroll.reenrolled')).some((e) => e.detail['previousSerial'] === current.serial)).toBe(true);
  });

  it('keeps working for the grace period after expiry, not after', async () => {
    w.clock.now = current.notAfter + 6 * DAY_MS;
    await w.service({ reenrollGraceDays: 7 }).reenroll(current.der, csr(), null);
    w.clock.now = current.notAfter + 8 * DAY_MS;
    const err = await rejectsWith(w.service({ reenrollGraceDays: 7 }).reenroll(current.der, csr(), null), ErrorCodes.ENROLLMENT_REFUSED);
    expect(err.message).toMatch(/expired more than 7 day/);
    w.clock.now = Date.now();
  });

  it('refuses a revoked certificate, one from another CA, and one not on record', async () => {
    w.clock.now = current.notAfter - 1000;
    try {
      const other = await createCertificateAuthority({ name: 'Other' });
      const foreign = await issueDeviceCertificate(other, { deviceId: 'renew-1', segment: 'lab' });
      await rejectsWith(w.service().reenroll(new X509Certificate(foreign.certPem).raw, csr(), null), ErrorCodes.AUTH_FAILED);
      // Signed by our CA but never recorded (e.g. a store restored from an old backup).
      const stray = await issueDeviceCertificate(w.ca, { deviceId: 'renew-1', segment: 'lab' });
      w.clock.now = stray.notAfter - 1000;
      await rejectsWith(w.service().reenroll(new X509Certificate(stray.certPem).raw, csr(), null), ErrorCodes.ENROLLMENT_REFUSED);
      w.clock.now = current.notAfter - 1000;
      await w.store.certificates.revoke(current.serial, Date.now(), 'keyCompromise');
      await rejectsWith(w.service().reenroll(current.der, csr(), null), ErrorCodes.CERT_REVOKED);
    } finally {
      w.clock.now = Date.now();
    }
  });
});

describe('keys rotate covers enrollment tokens and the lookup key', () => {
  it('re-wraps them under the new master key; the token still works after the old key is retired', async () => {
    const { token, record } = await w.service().createToken({ deviceId: 'rot-1', segment: 'lab', ttlMs: 3_600_000 });
    const before = await w.store.enrollment.getToken(record.id);
    const lines: string[] = [];
    const result = await rotateMasterKey({ dataDir: w.dir, settings: SECRETS_SETTINGS, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/enrollment: re-wrapped \d+ record\(s\)/);
    expect(result.retired.length).toBeGreaterThan(0);
    const after = await w.store.enrollment.getToken(record.id);
    expect(after?.sealed).not.toBe(before?.sealed);
    expect(after?.sealed).toContain(result.current);
    expect(await w.store.enrollment.getLookupKey()).toContain(result.current);
    // A fresh process (new SecretBox from the rotated keyring file) finds and opens the token.
    const fresh = new EnrollmentTokens(w.store.enrollment, openSecretBox(w.dir, SECRETS_SETTINGS));
    expect((await fresh.find(token))?.id).toBe(record.id);
  });
});
