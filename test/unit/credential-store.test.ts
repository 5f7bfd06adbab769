/**
 * Setting device credentials against the real SQLite store and a real sealed fingerprint key:
 * hashes only, keyed fingerprints, shared credentials refused or reported, events without
 * secrets, the audit, the v4 index, and `keys rotate` covering the fingerprint key.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rotateMasterKey } from '../../src/cli/keys.ts';
import { ErrorCodes } from '../../src/core/errors.ts';
import { EventLog } from '../../src/core/events/event-log.ts';
import { auditDeviceCredentials } from '../../src/core/identity/credential-audit.ts';
import { credentialFingerprint } from '../../src/core/identity/credential-fingerprint.ts';
import { setDeviceCredential, setGeneratedDeviceCredential, type CredentialServices } from '../../src/core/identity/credential-set.ts';
import { verifyPassword } from '../../src/core/identity/password.ts';
import type { Device } from '../../src/core/ports.ts';
import { FINGERPRINT_KEY_FILE, loadFingerprintKey } from '../../src/store/credential-fingerprint-key.ts';
import { shippedCredentialChecker } from '../../src/store/credential-lists.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const SETTINGS = { masterKeyFile: null, masterKeyEnv: null };
const T0 = 1_700_000_000_000;
const SHARED = 'Plum-Harbor-83-kestrel';

let dir: string;
let store: SqliteStore;
let events: EventLog;
let services: CredentialServices;

function device(id: string, overrides: Partial<Device> = {}): Device {
  return { id, segment: 'lab', status: 'active', attrs: {}, passwordHash: null, createdAt: T0, ...overrides };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-cred-'));
  store = await openSqliteStore(join(dir, 'palisade.db'));
  events = new EventLog(store.events);
  services = { checker: shippedCredentialChecker(), fingerprintKey: loadFingerprintKey(dir, openSecretBox(dir, SETTINGS)), events };
  for (const id of ['cam-1', 'cam-2', 'cam-3']) await store.devices.create(device(id));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function allEventsText(): Promise<string> {
  await events.flush();
  return JSON.stringify(await store.events.list());
}

describe('setDeviceCredential with the SQLite store', () => {
  it('stores an scrypt hash and a keyed fingerprint, never the secret', async () => {
    await setDeviceCredential(store, services, { deviceId: 'cam-1', secret: SHARED, actor: 'test' });
    const d = await store.devices.get('cam-1');
    expect(d?.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword(SHARED, d!.passwordHash!)).toBe(true);
    expect(d?.credentialFingerprint).toBe(credentialFingerprint(services.fingerprintKey, SHARED));
    // Keyed: another key gives another fingerprint, so it is no plain hash of the password.
    expect(credentialFingerprint(Buffer.alloc(32, 7), SHARED)).not.toBe(d?.credentialFingerprint);
    const raw = new DatabaseSync(join(dir, 'palisade.db'), { readOnly: true });
    try {
      const rows = JSON.stringify(raw.prepare('SELECT * FROM devices').all());
      expect(rows).not.toContain(SHARED);
    } finally {
      raw.close();
    }
    const text = await allEventsText();
    expect(text).toContain('credential.set');
    expect(text).not.toContain(SHARED);
  });

  it('refuses a credential another device has, naming the devices, and stores nothing', async () => {
    await setDeviceCredential(store, services, { deviceId: 'cam-1', secret: SHARED });
    await expect(setDeviceCredential(store, services, { deviceId: 'cam-2', secret: SHARED })).rejects.toMatchObject({
      code: ErrorCodes.CREDENTIAL_REFUSED,
      detail: { reason: 'shared', devices: ['cam-2', 'cam-1'] },
    });
    expect((await store.devices.get('cam-2'))?.passwordHash).toBeNull();
    // Setting the same password again on the same device is not sharing.
    await setDeviceCredential(store, services, { deviceId: 'cam-1', secret: SHARED });
    const text = await allEventsText();
    expect(text).toContain('credential.refused');
    expect(text).not.toContain(SHARED);
  });

  it('with allowShared, accepts it and records credential.shared naming both devices, not the secret', async () => {
    await setDeviceCredential(store, services, { deviceId: 'cam-1', secret: SHARED });
    const r = await setDeviceCredential(store, services, { deviceId: 'cam-2', secret: SHARED, allowShared: true, actor: 'alice' });
    expect(r.sharedWith).toEqual(['cam-1']);
    await events.flush();
    const shared = await store.events.list({ type: 'credential.shared' });
    expect(shared).toHaveLength(1);
    expect(shared[0]).toMatchObject({ severity: 'warning', principal: 'cam-2', detail: { devices: ['cam-2', 'cam-1'], actor: 'alice' } });
    expect(JSON.stringify(await store.events.list())).not.toContain(SHARED);
    expect((await store.devices.listByCredentialFingerprint(credentialFingerprint(services.fingerprintKey, SHARED))).map((d) => d.id)).toEqual(['cam-1', 'cam-2']);
  });

  it('refuses Mirai, default and weak credentials before touching the device, with an event', async () => {
    for (const [secret, reason] of [['xc3511', 'mirai'], ['raspberry', 'factory-default'], ['cam-1-Zx9#kq!2Lm7', 'contains-identifier'], ['aaaaaaaaaaaaaaaa', 'too-weak']] as const) {
      await expect(setDeviceCredential(store, services, { deviceId: 'cam-1', secret })).rejects.toMatchObject({ code: ErrorCodes.CREDENTIAL_REFUSED, detail: { reason } });
    }
    expect((await store.devices.get('cam-1'))?.passwordHash).toBeNull();
    await events.flush();
    expect((await store.events.list({ type: 'credential.refused' })).map((e) => e.detail.reason)).toEqual(['mirai', 'factory-default', 'contains-identifier', 'too-weak']);
    await expect(setDeviceCredential(store, services, { deviceId: 'ghost', secret: SHARED })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });

  it('generates distinct credentials per device that authenticate against the stored hash', async () => {
    const a = await setGeneratedDeviceCredential(store, services, { deviceId: 'cam-1' });
    const b = await setGeneratedDeviceCredential(store, services, { deviceId: 'cam-2' });
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(24);
    expect(await verifyPassword(a, (await store.devices.get('cam-1'))!.passwordHash!)).toBe(true);
    expect(await verifyPassword(a, (await store.devices.get('cam-2'))!.passwordHash!)).toBe(false);
    expect(await allEventsText()).not.toContain(a);
  });
});

describe('auditDeviceCredentials', () => {
  it('groups devices sharing a password and lists devices with no live credential or no fingerprint', async () => {
    await setDeviceCredential(store, services, { deviceId: 'cam-1', secret: SHARED });
    await setDeviceCredential(store, services, { deviceId: 'cam-2', secret: SHARED, allowShared: true });
    await setGeneratedDeviceCredential(store, services, { deviceId: 'cam-3' });
    await store.devices.create(device('bare'));
    await store.devices.create(device('legacy', { passwordHash: 'scrypt$16384$8$1$AAAA$BBBB' }));
    await store.devices.create(device('with-cert'));
    await store.devices.create(device('revoked-cert'));
    await store.devices.create(device('expired-cert'));
    const cert = { kind: 'device' as const, subject: 'CN=x', notBefore: T0, fingerprint: 'ab'.repeat(32), pem: 'x', revocationReason: null };
    const now = Date.now();
    await store.certificates.add({ ...cert, serial: '01', deviceId: 'with-cert', notAfter: now + 86_400_000, revokedAt: null });
    await store.certificates.add({ ...cert, serial: '02', deviceId: 'revoked-cert', notAfter: now + 86_400_000, revokedAt: now - 1 });
    await store.certificates.add({ ...cert, serial: '03', deviceId: 'expired-cert', notAfter: now - 1, revokedAt: null });
    expect(await auditDeviceCredentials(store, now)).toEqual({
      shared: [['cam-1', 'cam-2']],
      noCredential: ['bare', 'expired-cert', 'revoked-cert'],
      unfingerprinted: ['legacy'],
    });
  });
});

describe('fingerprint key and schema', () => {
  it('looks fingerprints up through the v4 index', () => {
    const raw = new DatabaseSync(join(dir, 'palisade.db'), { readOnly: true });
    try {
      const plan = JSON.stringify(raw.prepare('EXPLAIN QUERY PLAN SELECT id FROM devices WHERE credential_fingerprint = ?').all('x'));
      expect(plan).toContain('devices_by_credential_fingerprint');
      expect(raw.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toMatchObject({ v: expect.any(Number) as number });
      expect(raw.prepare('SELECT name FROM schema_migrations WHERE version = 4').get()).toEqual({ name: 'device credential fingerprints' });
    } finally {
      raw.close();
    }
  });

  it('keeps the key sealed (0600, no key bytes in the file), stable across loads and across keys rotate', async () => {
    const path = join(dir, FINGERPRINT_KEY_FILE);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^pal1:/);
    expect(text).not.toContain(services.fingerprintKey.toString('base64'));
    expect(text).not.toContain(services.fingerprintKey.toString('hex'));
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadFingerprintKey(dir, openSecretBox(dir, SETTINGS)).equals(services.fingerprintKey)).toBe(true);

    const logs: string[] = [];
    await rotateMasterKey({ dataDir: dir, settings: SETTINGS, log: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/credential fingerprint key: re-wrapped 1 record/);
    expect(readFileSync(path, 'utf8')).not.toBe(text);
    expect(loadFingerprintKey(dir, openSecretBox(dir, SETTINGS)).equals(services.fingerprintKey)).toBe(true);
  });
});
