/**
 * Fixtures for the enrollment tests: a data dir with a real SQLite store, master key and CA,
 * and CSRs made by the real `openssl req` (a device's view: key generated on the device).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../src/core/events/event-log.ts';
import { EnrollmentService, type EnrollmentSettings } from '../../src/core/enrollment/service.ts';
import type { CertificateAuthority } from '../../src/core/pki/index.ts';
import type { SecretBox } from '../../src/core/secrets/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { ensurePki } from '../../src/store/pki-files.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

export const SECRETS_SETTINGS = { masterKeyFile: null, masterKeyEnv: null };

export interface EnrollWorld {
  dir: string;
  store: SqliteStore;
  secrets: SecretBox;
  ca: CertificateAuthority;
  caChainPem: string;
  events: EventLog;
  clock: { now: number };
  service(settings?: Partial<EnrollmentSettings>): EnrollmentService;
  close(): Promise<void>;
}

export async function enrollWorld(): Promise<EnrollWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-enroll-'));
  const secrets = openSecretBox(dir, SECRETS_SETTINGS);
  const store = await openSqliteStore(join(dir, 'palisade.db'));
  const pki = await ensurePki(dir, ['localhost', '127.0.0.1'], store, secrets);
  const events = new EventLog(store.events);
  const clock = { now: Date.now() };
  return {
    dir,
    store,
    secrets,
    ca: pki.ca,
    caChainPem: pki.caChainPem,
    events,
    clock,
    service: (settings = {}) => new EnrollmentService({ store, events, ca: pki.ca, secrets, settings: { deviceCertDays: 30, reenrollGraceDays: 7, ...settings }, now: () => clock.now }),
    async close() {
      await events.flush();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `openssl req -newkey` arguments per key kind. */
export const KEY_KINDS = {
  'rsa-1024': ['-newkey', 'rsa:1024'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'ec-p521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  'ec-secp256k1': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  ed25519: ['-newkey', 'ed25519'],
} as const;

export type KeyKind = keyof typeof KEY_KINDS;

export interface OpensslCsr {
  keyPath: string;
  csrPath: string;
  csrPem: string;
  /** DER of the CSR in base64, what EST's simpleenroll carries. */
  csrBase64: string;
  keyPem: string;
}

/**
 * A key and CSR made by openssl. The CSR claims another identity (CN=admin and the SAN of
 * device "admin"), which enrollment must ignore.
 */
export function opensslCsr(dir: string, name: string, kind: KeyKind = 'ec-p256'): OpensslCsr {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', ...KEY_KINDS[kind], '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=admin/O=Evil Corp', '-addext', 'subjectAltName=URI:urn:palisade:device:admin'], { stdio: 'pipe' });
  const der = execFileSync('openssl', ['req', '-in', csrPath, '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { keyPath, csrPath, csrPem: readFileSync(csrPath, 'utf8'), csrBase64: der.toString('base64'), keyPem: readFileSync(keyPath, 'utf8') };
}
