import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCrl } from '../../src/core/pki/crl.ts';
import { chainPem, createCertificateAuthority, issueDeviceCertificate } from '../../src/core/pki/index.ts';

describe('CRL', () => {
  it('is signed by the issuing CA and makes openssl reject the revoked certificate only', async () => {
    const ca = await createCertificateAuthority({ name: 'CrlTest' });
    const revoked = await issueDeviceCertificate(ca, { deviceId: 'bad-1', segment: 's' });
    const good = await issueDeviceCertificate(ca, { deviceId: 'good-1', segment: 's' });
    const crl = await createCrl(ca, [{ serial: revoked.serial, revokedAt: Date.now(), reason: 'keyCompromise' }]);
    const dir = mkdtempSync(join(tmpdir(), 'palisade-crl-'));
    writeFileSync(join(dir, 'chain.pem'), chainPem(ca));
    writeFileSync(join(dir, 'crl.pem'), crl.pem);
    writeFileSync(join(dir, 'bad.pem'), revoked.certPem);
    writeFileSync(join(dir, 'good.pem'), good.certPem);
    const text = execFileSync('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text', '-CAfile', join(dir, 'chain.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(text).toMatch(new RegExp(revoked.serial, 'i'));
    expect(text).toMatch(/Key Compromise/);
    const verify = (f: string): string => {
      try {
        return execFileSync('openssl', ['verify', '-crl_check', '-CAfile', join(dir, 'chain.pem'), '-CRLfile', join(dir, 'crl.pem'), join(dir, f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        return String((err as { stdout?: string; stderr?: string }).stdout ?? '') + String((err as { stderr?: string }).stderr ?? '');
      }
    };
    expect(verify('good.pem')).toMatch(/OK/);
    expect(verify('bad.pem')).toMatch(/certificate revoked/);
    expect(crl.nextUpdate - crl.thisUpdate).toBe(3_600_000);
  });
});
