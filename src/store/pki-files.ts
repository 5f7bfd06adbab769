/**
 * The CA and server key material in the data dir. Created on first start, reused after.
 *
 * Layout (DATA_DIR/pki): root-ca.pem, root-ca-key.sealed, issuing-ca.pem,
 * issuing-ca-key.sealed, ca.pem (issuing + root: what devices use as --cafile),
 * server-cert.pem, server-key.pem, server-hosts.json.
 *
 * The CA private keys are sealed under the master keyring (core/secrets; contexts
 * `ca:root-key`, `ca:issuing-key`) and exist in clear only in memory. Plaintext
 * root-ca-key.pem / issuing-ca-key.pem from before are sealed and deleted on first load.
 * The TLS server key stays a 0600 PEM file: operators point other TLS tools (openssl
 * s_client checks, a side-by-side broker) at it, and it is re-issued from the CA at will,
 * so sealing it would protect little; the CA keys are what must not leak.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { certificateInfo, chainPem, createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../core/pki/index.ts';
import type { CertificateRecord, Store } from '../core/ports.ts';
import type { SealedRecordEntry, SealedRecordLocation, SecretBox } from '../core/secrets/index.ts';
import { writeFileAtomic } from './master-key.ts';

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
  issuingCert: 'issuing-ca.pem',
  chain: 'ca.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
} as const;

/** The sealed CA keys, their contexts, and the plaintext files they replace. */
const CA_KEYS = {
  root: { file: 'root-ca-key.sealed', legacy: 'root-ca-key.pem', context: 'ca:root-key' },
  issuing: { file: 'issuing-ca-key.sealed', legacy: 'issuing-ca-key.pem', context: 'ca:issuing-key' },
} as const;

type CaKey = (typeof CA_KEYS)[keyof typeof CA_KEYS];

export function pkiDir(dataDir: string): string {
  return join(dataDir, 'pki');
}

function pkiFailure(message: string, cause?: unknown): PalisadeError {
  return new PalisadeError(ErrorCodes.PKI_FAILURE, message, cause === undefined ? undefined : { cause });
}

function writeSealed(dir: string, k: CaKey, pem: string, secrets: SecretBox): void {
  writeFileAtomic(join(dir, k.file), `${secrets.seal(pem, k.context)}\n`, 0o600);
}

function openSealed(dir: string, k: CaKey, secrets: SecretBox): string {
  const text = readFileSync(join(dir, k.file), 'utf8');
  try {
    return secrets.open(text, k.context).toString('utf8');
  } catch (err) {
    throw pkiFailure(`pki/${k.file}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/**
 * Seals a plaintext CA key left by an older version, checks the sealed copy opens to the same
 * key, then deletes the plaintext. A crash between the two steps leaves both; the next call
 * finishes the job.
 */
function migrateLegacyKeys(dir: string, secrets: SecretBox): void {
  for (const k of Object.values(CA_KEYS)) {
    const legacyPath = join(dir, k.legacy);
    if (!existsSync(legacyPath)) continue;
    const pem = readFileSync(legacyPath, 'utf8');
    if (!existsSync(join(dir, k.file))) writeSealed(dir, k, pem, secrets);
    if (openSealed(dir, k, secrets) !== pem) throw pkiFailure(`pki/${k.legacy} and pki/${k.file} hold different keys; keep the right one and delete the other`);
    unlinkSync(legacyPath);
  }
}

export function loadCa(dataDir: string, secrets: SecretBox): CertificateAuthority | null {
  const dir = pkiDir(dataDir);
  migrateLegacyKeys(dir, secrets);
  if (!existsSync(join(dir, CA_KEYS.issuing.file))) return null;
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    root: { certPem: read(FILES.rootCert), keyPem: openSealed(dir, CA_KEYS.root, secrets) },
    issuing: { certPem: read(FILES.issuingCert), keyPem: openSealed(dir, CA_KEYS.issuing, secrets) },
  };
}

/** The sealed CA key files, for `palisade keys rotate`. */
export function pkiSealedRecords(dataDir: string, secrets: SecretBox): SealedRecordLocation {
  const dir = pkiDir(dataDir);
  return {
    name: 'pki',
    *records(): Generator<SealedRecordEntry> {
      if (existsSync(dir)) migrateLegacyKeys(dir, secrets);
      for (const k of Object.values(CA_KEYS)) {
        const path = join(dir, k.file);
        if (!existsSync(path)) continue;
        yield {
          label: `pki/${k.file}`,
          context: k.context,
          sealed: readFileSync(path, 'utf8').trim(),
          replace: (next: string) => {
            writeFileAtomic(path, `${next}\n`, 0o600);
            return Promise.resolve();
          },
        };
      }
    },
  };
}

function record(pem: string, kind: CertificateRecord['kind']): CertificateRecord {
  const info = certificateInfo(pem);
  return { serial: info.serial, kind, deviceId: null, subject: info.subject, notBefore: info.notBefore, notAfter: info.notAfter, fingerprint: info.fingerprint, pem, revokedAt: null, revocationReason: null };
}

/** Creates the CA and server certificate when missing; a server cert is re-issued when the host names change. */
export async function ensurePki(dataDir: string, hostnames: string[], store: Store, secrets: SecretBox): Promise<PkiMaterial> {
  const dir = pkiDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca = loadCa(dataDir, secrets);
  const created = ca === null;
  if (!ca) {
    ca = await createCertificateAuthority({ name: 'Palisade' });
    writeFileSync(join(dir, FILES.rootCert), ca.root.certPem);
    writeSealed(dir, CA_KEYS.root, ca.root.keyPem, secrets);
    writeFileSync(join(dir, FILES.issuingCert), ca.issuing.certPem);
    writeFileSync(join(dir, FILES.chain), chainPem(ca));
    // Last: its presence is what marks the CA as created.
    writeSealed(dir, CA_KEYS.issuing, ca.issuing.keyPem, secrets);
    await store.certificates.add(record(ca.root.certPem, 'root-ca'));
    await store.certificates.add(record(ca.issuing.certPem, 'issuing-ca'));
  }
  const hostsFile = join(dir, 'server-hosts.json');
  const wanted = JSON.stringify([...hostnames].sort());
  const current = existsSync(hostsFile) ? readFileSync(hostsFile, 'utf8') : '';
  if (created || current !== wanted || !existsSync(join(dir, FILES.serverCert))) {
    const server = await issueServerCertificate(ca, { hosts: hostnames });
    writeFileSync(join(dir, FILES.serverCert), server.certPem);
    writeFileAtomic(join(dir, FILES.serverKey), server.keyPem, 0o600);
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
