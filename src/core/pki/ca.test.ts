import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { certificateInfo, chainPem, createCertificateAuthority, issueDeviceCertificate, issueServerCertificate, type CertificateAuthority } from './index.ts';

let dir: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Runs openssl; returns stdout, or throws with openssl's stderr in the message. */
function openssl(...args: string[]): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(isPalisadeError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-pki-'));
  ca = await createCertificateAuthority({ name: 'Palisade' });
  otherCa = await createCertificateAuthority({ name: 'Intruder' });
  file('root.pem', ca.root.certPem);
  file('issuing.pem', ca.issuing.certPem);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('createCertificateAuthority', () => {
  it('produces a P-256 root and issuing CA with the RFC 5280 CA profile', () => {
    const root = openssl('x509', '-in', join(dir, 'root.pem'), '-noout', '-text');
    expect(root).toMatch(/Subject: O = Palisade, CN = Palisade Root CA/);
    expect(root).toMatch(/Issuer: O = Palisade, CN = Palisade Root CA/);
    expect(root).toMatch(/NIST CURVE: P-256/);
    expect(root).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(root).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
    expect(root).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(root).toMatch(/X509v3 Subject Key Identifier/);

    const issuing = openssl('x509', '-in', join(dir, 'issuing.pem'), '-noout', '-text');
    expect(issuing).toMatch(/Issuer: O = Palisade, CN = Palisade Root CA/);
    expect(issuing).toMatch(/Subject: O = Palisade, CN = Palisade Issuing CA/);
    expect(issuing).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(issuing).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    // The issuing CA's AKI is the root's SKI.
    const rootSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(root)?.[1];
    expect(rootSki).toBeDefined();
    expect(issuing).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
    openssl('verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'issuing.pem'));
  });

  it('exports keys as unencrypted PKCS#8 PEM that openssl reads as P-256', () => {
    for (const kp of [ca.root, ca.issuing]) {
      expect(kp.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
      const text = openssl('pkey', '-in', file('k.pem', kp.keyPem), '-noout', '-text');
      expect(text).toMatch(/NIST CURVE: P-256/);
    }
  });

  it('uses positive 16-byte random serials and reports lower-case hex', () => {
    const root = certificateInfo(ca.root.certPem);
    const issuing = certificateInfo(ca.issuing.certPem);
    for (const info of [root, issuing]) expect(info.serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(root.serial).not.toBe(issuing.serial);
    expect(openssl('x509', '-in', join(dir, 'root.pem'), '-noout', '-serial').trim()).toBe(`serial=${root.serial.toUpperCase()}`);
  });

  it('refuses bad names and validity periods', async () => {
    await rejects(createCertificateAuthority({ name: '' }), ErrorCodes.INVALID_ARGUMENT);
    await rejects(createCertificateAuthority({ name: 'x'.repeat(60) }), ErrorCodes.INVALID_ARGUMENT);
    await rejects(createCertificateAuthority({ name: 'P', rootDays: 0 }), ErrorCodes.INVALID_ARGUMENT);
    await rejects(createCertificateAuthority({ name: 'P', issuingDays: 1.5 }), ErrorCodes.INVALID_ARGUMENT);
  });

  it('never lets the issuing CA outlive the root', async () => {
    const short = await createCertificateAuthority({ name: 'Short', rootDays: 10, issuingDays: 100 });
    expect(certificateInfo(short.issuing.certPem).notAfter).toBe(certificateInfo(short.root.certPem).notAfter);
  });
});

describe('issueDeviceCertificate', () => {
  it('issues a client certificate that openssl verifies through the chain', async () => {
    const dev = await issueDeviceCertificate(ca, { deviceId: 'thermostat-17', segment: 'hvac' });
    const devPath = file('device.pem', dev.certPem);
    expect(openssl('verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem'), devPath)).toContain('OK');
    expect(openssl('verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem'), devPath)).toContain('OK');
    // EKU clientAuth only: the same certificate must not pass as a TLS server certificate.
    expect(() => openssl('verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem'), devPath)).toThrow(/(unsuitable|unsupported) certificate purpose/);
    // Without the issuing CA there is no path, and another CA's root does not anchor it.
    expect(() => openssl('verify', '-CAfile', join(dir, 'root.pem'), devPath)).toThrow(/unable to get local issuer/);
    expect(() => openssl('verify', '-CAfile', file('other-chain.pem', chainPem(otherCa)), devPath)).toThrow(/unable to get local issuer/);

    const text = openssl('x509', '-in', devPath, '-noout', '-text');
    expect(text).toMatch(/Subject: O = Palisade, OU = hvac, CN = thermostat-17\n/);
    expect(text).toMatch(/Issuer: O = Palisade, CN = Palisade Issuing CA/);
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+URI:urn:palisade:device:thermostat-17\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(text).toMatch(/NIST CURVE: P-256/);

    // The returned key belongs to the certificate.
    const keyPath = file('device.key', dev.keyPem);
    expect(openssl('pkey', '-in', keyPath, '-pubout')).toBe(openssl('x509', '-in', devPath, '-noout', '-pubkey'));
  });

  it('reports metadata that matches the certificate', async () => {
    const before = Date.now();
    const dev = await issueDeviceCertificate(ca, { deviceId: 'cam_2.b', segment: 'cameras', days: 7 });
    const node = new X509Certificate(dev.certPem);
    expect(dev.serial).toBe(node.serialNumber.toLowerCase());
    expect(dev.fingerprint).toBe(node.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(dev.subject).toBe('CN=cam_2.b, OU=cameras, O=Palisade');
    expect(dev.notBefore).toBe(Date.parse(node.validFrom));
    expect(dev.notAfter).toBe(Date.parse(node.validTo));
    expect(dev.notBefore).toBeLessThanOrEqual(before);
    expect(dev.notAfter - before).toBeGreaterThan(7 * 86_400_000 - 2000);
    expect(dev.notAfter - before).toBeLessThanOrEqual(7 * 86_400_000);
    expect(certificateInfo(dev.certPem)).toEqual({ serial: dev.serial, fingerprint: dev.fingerprint, subject: dev.subject, notBefore: dev.notBefore, notAfter: dev.notAfter });
  });

  it('encodes a hostile segment literally', async () => {
    const dev = await issueDeviceCertificate(ca, { deviceId: 'd1', segment: '#lab "x", y=z' });
    expect(dev.subject).toBe('CN=d1, OU=\\#lab \\"x\\"\\, y\\=z, O=Palisade');
    expect(new X509Certificate(dev.certPem).toLegacyObject().subject).toEqual({ O: 'Palisade', OU: '#lab "x", y=z', CN: 'd1' });
    const hexLike = await issueDeviceCertificate(ca, { deviceId: 'd2', segment: '#abc' });
    expect(hexLike.subject).toBe('CN=d2, OU=\\#abc, O=Palisade');
  });

  it('refuses invalid device ids and segments before doing any work', async () => {
    for (const deviceId of ['', '../etc', 'a/b', 'a+', '#', '-x', 'x'.repeat(129)]) {
      await rejects(issueDeviceCertificate(ca, { deviceId, segment: 'lab' }), ErrorCodes.INVALID_ARGUMENT);
    }
    await rejects(issueDeviceCertificate(ca, { deviceId: 'ok', segment: '' }), ErrorCodes.INVALID_ARGUMENT);
    await rejects(issueDeviceCertificate(ca, { deviceId: 'ok', segment: 'a\nb' }), ErrorCodes.INVALID_ARGUMENT);
    await rejects(issueDeviceCertificate(ca, { deviceId: 'ok', segment: 'lab', days: 0 }), ErrorCodes.INVALID_ARGUMENT);
  });

  it('refuses a CA whose issuing key does not match its certificate', async () => {
    const mixed: CertificateAuthority = { root: ca.root, issuing: { certPem: ca.issuing.certPem, keyPem: otherCa.issuing.keyPem } };
    await rejects(issueDeviceCertificate(mixed, { deviceId: 'd1', segment: 'lab' }), ErrorCodes.PKI_FAILURE);
  });
});

describe('issueServerCertificate', () => {
  it('issues a server certificate with DNS and IP SANs that openssl verifies', async () => {
    const srv = await issueServerCertificate(ca, { hosts: ['Gateway.Example', '127.0.0.1', '::1', 'localhost'] });
    const path = file('server.pem', srv.certPem);
    expect(openssl('verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem'), path)).toContain('OK');
    expect(openssl('verify', '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1', '-CAfile', file('chain.pem', chainPem(ca)), path)).toContain('OK');
    expect(() => openssl('verify', '-verify_hostname', 'other.example', '-CAfile', join(dir, 'chain.pem'), path)).toThrow(/hostname mismatch/);
    expect(() => openssl('verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'chain.pem'), path)).toThrow(/(unsuitable|unsupported) certificate purpose/);

    const text = openssl('x509', '-in', path, '-noout', '-text');
    expect(text).toMatch(/Subject: CN = Gateway.Example\n/);
    expect(text).toMatch(/DNS:gateway.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(srv.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(srv.subject).toBe('CN=Gateway.Example');
    // Default validity 397 days.
    expect(Math.round((srv.notAfter - srv.notBefore) / 86_400_000)).toBe(397);
  });

  it('refuses an empty host list and malformed hosts', async () => {
    await rejects(issueServerCertificate(ca, { hosts: [] }), ErrorCodes.INVALID_ARGUMENT);
    for (const host of ['bad host', 'a..b', '-a.example', '1::2::3', 'http://x', '*.com']) {
      await rejects(issueServerCertificate(ca, { hosts: [host] }), ErrorCodes.INVALID_ARGUMENT);
    }
  });
});

describe('chainPem', () => {
  it('is the issuing CA then the root, usable as a CA bundle', () => {
    const bundle = chainPem(ca);
    expect(bundle).toBe(ca.issuing.certPem + ca.root.certPem);
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(bundle.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    // Both blocks parse, in order.
    const parts = bundle.split(/(?<=-----END CERTIFICATE-----\n)/);
    expect(parts.map((p) => certificateInfo(p).subject)).toEqual(['CN=Palisade Issuing CA, O=Palisade', 'CN=Palisade Root CA, O=Palisade']);
  });

  it('certificateInfo refuses non-certificates', () => {
    let caught: unknown;
    try {
      certificateInfo(ca.issuing.keyPem);
    } catch (err) {
      caught = err;
    }
    expect(isPalisadeError(caught, ErrorCodes.PKI_FAILURE)).toBe(true);
  });
});
