/** The DTLS server's device hooks over a real store: PSK per active device, certificates Palisade issued and did not revoke, principals. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/core/errors.ts';
import { rotateDevicePsk } from '../../src/core/psk/device-psk.ts';
import { deviceDtlsHooks, dtlsPrincipal } from '../../src/protocols/dtls/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const SETTINGS = { masterKeyFile: null, masterKeyEnv: null };

describe('deviceDtlsHooks / dtlsPrincipal', () => {
  let dir: string;
  let store: SqliteStore;
  const cert = (serial: string, deviceId: string, revokedAt: number | null = null, kind: 'device' | 'bootstrap' = 'device') =>
    store.certificates.add({ serial, kind, deviceId, subject: `CN=${deviceId}`, notBefore: 0, notAfter: Date.now() + 1e9, fingerprint: serial, pem: 'pem', revokedAt, revocationReason: revokedAt === null ? null : 'keyCompromise' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-dtls-hooks-'));
    store = await openSqliteStore(join(dir, 'palisade.db'));
    await store.devices.create({ id: 'cam-1', segment: 'cams', status: 'active', attrs: { floor: '2' }, passwordHash: null, createdAt: 1 });
    await store.devices.create({ id: 'cam-2', segment: 'cams', status: 'disabled', attrs: {}, passwordHash: null, createdAt: 1 });
    await cert('a1', 'cam-1');
    await cert('a2', 'cam-1', Date.now());
    await cert('b1', 'cam-2');
    await cert('c1', 'cam-1', null, 'bootstrap');
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('verifyPeer accepts only a known, unrevoked device certificate of an active device that names it', async () => {
    const { verifyPeer } = deviceDtlsHooks({ store, secrets: openSecretBox(dir, SETTINGS) });
    const id = (serial: string, deviceId = 'cam-1') => ({ deviceId, serial, commonName: deviceId });
    expect(await verifyPeer!([], id('a1'))).toEqual(id('a1'));
    expect(await verifyPeer!([], id('a2'))).toBeNull(); // revoked
    expect(await verifyPeer!([], id('zz'))).toBeNull(); // not issued by us (not in the store)
    expect(await verifyPeer!([], id('a1', 'cam-2'))).toBeNull(); // serial of another device
    expect(await verifyPeer!([], id('b1', 'cam-2'))).toBeNull(); // device disabled
    expect(await verifyPeer!([], id('c1'))).toBeNull(); // bootstrap certificates only enroll
  });

  it('psk gives the sealed key of active devices only', async () => {
    const secrets = openSecretBox(dir, SETTINGS);
    const key = await rotateDevicePsk({ devices: store.devices, psks: store.devicePsks, secrets }, 'cam-1');
    await rotateDevicePsk({ devices: store.devices, psks: store.devicePsks, secrets }, 'cam-2');
    const { psk } = deviceDtlsHooks({ store, secrets });
    expect(await psk!('cam-1')).toEqual(key);
    expect(await psk!('cam-2')).toBeNull();
    expect(await psk!('cam-3')).toBeNull();
  });

  it('maps a session identity to the device principal, by its current record', async () => {
    expect(await dtlsPrincipal(store, { kind: 'psk', id: 'cam-1' })).toMatchObject({ id: 'cam-1', segment: 'cams', authMethod: 'psk', attrs: { floor: '2' }, quarantined: false });
    expect(await dtlsPrincipal(store, { kind: 'certificate', cert: { deviceId: 'cam-1', serial: 'a1', commonName: 'cam-1' } })).toMatchObject({ id: 'cam-1', authMethod: 'certificate', certSerial: 'a1' });
    await expect(dtlsPrincipal(store, { kind: 'psk', id: 'cam-2' })).rejects.toMatchObject({ code: ErrorCodes.AUTH_DEVICE_DISABLED });
    await expect(dtlsPrincipal(store, { kind: 'psk', id: 'ghost' })).rejects.toMatchObject({ code: ErrorCodes.AUTH_FAILED });
    await expect(dtlsPrincipal(store, { kind: 'certificate', cert: { deviceId: 'cam-1', serial: 'a2', commonName: 'cam-1' } })).rejects.toMatchObject({ code: ErrorCodes.CERT_REVOKED });
  });
});
