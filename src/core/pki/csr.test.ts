import { execFileSync } from 'node:child_process';
import { X509Certificate, type webcrypto as wc } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { chainPem, createCertificateAuthority, signDeviceCsr, type CertificateAuthority } from './index.ts';
import { webcrypto } from './keys.ts';
import * as x509 from './x509.ts';

let ca: CertificateAuthority;
let dir: string;

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const rsa = (bits: number): wc.RsaHashedKeyGenParams => ({ name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });

/** A CSR asking for everything it should not get: another device's identity and CA powers. */
async function makeCsr(keyAlg: wc.EcKeyGenParams | wc.RsaHashedKeyGenParams | wc.Algorithm, signingAlgorithm: { name: string; hash?: string }): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(keyAlg, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: 'CN=admin, OU=core, O=Evil Corp',
      keys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 5, true),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: 'urn:palisade:device:admin' },
          { type: 'dns', value: 'gateway.example' },
        ]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ],
    },
    webcrypto,
  );
  return csr.toString('pem');
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<unknown> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(isPalisadeError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  return caught;
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ name: 'Palisade' });
  dir = mkdtempSync(join(tmpdir(), 'palisade-csr-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('signDeviceCsr', () => {
  it('signs a P-256 CSR with our subject and SAN, ignoring what the CSR asked for', async () => {
    const csrPem = await makeCsr(P256, ECDSA_SHA256);
    const issued = await signDeviceCsr(ca, csrPem, { deviceId: 'meter-4', segment: 'utility' });
    expect(issued.keyPem).toBeNull();
    expect(issued.subject).toBe('CN=meter-4, OU=utility, O=Palisade');

    const cert = new X509Certificate(issued.certPem);
    expect(cert.subjectAltName).toBe('URI:urn:palisade:device:meter-4');
    expect(cert.ca).toBe(false);
    expect(cert.subject).not.toMatch(/admin|Evil/);
    // The certified key is the CSR's key.
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(csr.publicKey.rawData))).toBe(true);
    // It chains to our CA, as a client certificate only.
    const issuing = new X509Certificate(ca.issuing.certPem);
    expect(cert.checkIssued(issuing)).toBe(true);
    expect(cert.verify(issuing.publicKey)).toBe(true);
    writeFileSync(join(dir, 'chain.pem'), chainPem(ca));
    writeFileSync(join(dir, 'leaf.pem'), issued.certPem);
    const out = execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    expect(out).toContain('OK');
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).not.toMatch(/gateway\.example|Server Authentication|CA:TRUE/);
  });

  it('accepts the other allowed key types: P-384, Ed25519, RSA-2048', async () => {
    const csrs = await Promise.all([
      makeCsr({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }),
      makeCsr({ name: 'Ed25519' }, { name: 'Ed25519' }),
      makeCsr(rsa(2048), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }),
    ]);
    for (const csrPem of csrs) {
      const issued = await signDeviceCsr(ca, csrPem, { deviceId: 'd-1', segment: 'lab', days: 5 });
      expect(new X509Certificate(issued.certPem).verify(new X509Certificate(ca.issuing.certPem).publicKey)).toBe(true);
    }
  });

  it('refuses weak keys with PKI_FAILURE: RSA-1024 and P-521', async () => {
    const weak = await rejectsWith(signDeviceCsr(ca, await makeCsr(rsa(1024), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }), { deviceId: 'd-1', segment: 'lab' }), ErrorCodes.PKI_FAILURE);
    expect((weak as Error).message).toMatch(/1024/);
    await rejectsWith(signDeviceCsr(ca, await makeCsr({ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' }), { deviceId: 'd-1', segment: 'lab' }), ErrorCodes.PKI_FAILURE);
  });

  it('refuses a CSR whose signature does not verify (no proof of possession)', async () => {
    const der = Buffer.from(x509.PemConverter.decodeFirst(await makeCsr(P256, ECDSA_SHA256)));
    // Flip a bit inside the signed subject ("Evil" -> "Fvil"): still well-formed, no longer signed.
    const at = der.indexOf(Buffer.from('Evil Corp'));
    expect(at).toBeGreaterThan(0);
    der[at] = 0x46;
    const tampered = x509.PemConverter.encode(new Uint8Array(der), 'CERTIFICATE REQUEST');
    const err = await rejectsWith(signDeviceCsr(ca, tampered, { deviceId: 'd-1', segment: 'lab' }), ErrorCodes.PKI_FAILURE);
    expect((err as Error).message).toMatch(/signature/);
  });

  it('refuses input that is not exactly one PEM CSR', async () => {
    const good = await makeCsr(P256, ECDSA_SHA256);
    for (const bad of ['', 'garbage', ca.issuing.certPem, good + good, `${good}${'x'.repeat(20_000)}`]) {
      await rejectsWith(signDeviceCsr(ca, bad, { deviceId: 'd-1', segment: 'lab' }), ErrorCodes.PKI_FAILURE);
    }
  });

  it('refuses an invalid device id with INVALID_ARGUMENT', async () => {
    const good = await makeCsr(P256, ECDSA_SHA256);
    await rejectsWith(signDeviceCsr(ca, good, { deviceId: 'a/b', segment: 'lab' }), ErrorCodes.INVALID_ARGUMENT);
    await rejectsWith(signDeviceCsr(ca, good, { deviceId: 'x'.repeat(129), segment: 'lab' }), ErrorCodes.INVALID_ARGUMENT);
  });
});
