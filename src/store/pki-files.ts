/**
 * The CA and server key material in the data dir. Created on first start, reused after.
 * Private keys are written 0600; the issue on secrets at rest wraps them under the master key.
 *
 * Layout (DATA_DIR/pki): root-ca.pem, root-ca-key.pem, issuing-ca.pem, issuing-ca-key.pem,
 * ca.pem (issuing + root: what devices use as --cafile), server-cert.pem, server-key.pem.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateInfo, chainPem, createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../core/pki/index.ts';
import type { CertificateRecord, Store } from '../core/ports.ts';

export interface PkiMaterial {
  ca: CertificateAuthority;
  caChainPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** True when this call created the CA. */
  created: boolean;
}

const FILES = {
  rootCert: 'root-ca.pem',
  rootKey: 'root-ca-key.pem',
  issuingCert: 'issuing-ca.pem',
  issuingKey: 'issuing-ca-key.pem',
  chain: 'ca.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
} as const;

export function pkiDir(dataDir: string): string {
  return join(dataDir, 'pki');
}

function writeSecret(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
}

export function loadCa(dataDir: string): CertificateAuthority | null {
  const dir = pkiDir(dataDir);
  if (!existsSync(join(dir, FILES.issuingKey))) return null;
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { root: { certPem: read(FILES.rootCert), keyPem: read(FILES.rootKey) }, issuing: { certPem: read(FILES.issuingCert), keyPem: read(FILES.issuingKey) } };
}

function record(pem: string, kind: CertificateRecord['kind']): CertificateRecord {
  const info = certificateInfo(pem);
  return { serial: info.serial, kind, deviceId: null, subject: info.subject, notBefore: info.notBefore, notAfter: info.notAfter, fingerprint: info.fingerprint, pem, revokedAt: null, revocationReason: null };
}

/** Creates the CA and server certificate when missing; a server cert is re-issued when the host names change. */
export async function ensurePki(dataDir: string, hostnames: string[], store: Store): Promise<PkiMaterial> {
  const dir = pkiDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca = loadCa(dataDir);
  const created = ca === null;
  if (!ca) {
    ca = await createCertificateAuthority({ name: 'Palisade' });
    writeFileSync(join(dir, FILES.rootCert), ca.root.certPem);
    writeSecret(join(dir, FILES.rootKey), ca.root.keyPem);
    writeFileSync(join(dir, FILES.issuingCert), ca.issuing.certPem);
    writeSecret(join(dir, FILES.issuingKey), ca.issuing.keyPem);
    writeFileSync(join(dir, FILES.chain), chainPem(ca));
    await store.certificates.add(record(ca.root.certPem, 'root-ca'));
    await store.certificates.add(record(ca.issuing.certPem, 'issuing-ca'));
  }
  const hostsFile = join(dir, 'server-hosts.json');
  const wanted = JSON.stringify([...hostnames].sort());
  const current = existsSync(hostsFile) ? readFileSync(hostsFile, 'utf8') : '';
  if (created || current !== wanted || !existsSync(join(dir, FILES.serverCert))) {
    const server = await issueServerCertificate(ca, { hosts: hostnames });
    writeFileSync(join(dir, FILES.serverCert), server.certPem);
    writeSecret(join(dir, FILES.serverKey), server.keyPem);
    writeFileSync(hostsFile, wanted);
    await store.certificates.add(record(server.certPem, 'server'));
  }
  return {
    ca,
    caChainPem: readFileSync(join(dir, FILES.chain), 'utf8'),
    serverCertPem: readFileSync(join(dir, FILES.serverCert), 'utf8'),
    serverKeyPem: readFileSync(join(dir, FILES.serverKey), 'utf8'),
    created,
  };
}
