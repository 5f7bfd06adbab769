/** Device DTLS PSKs: generated, sealed per device, looked up for active devices only, re-wrapped by keys rotate. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rotateMasterKey } from '../../src/cli/keys.ts';
import { ErrorCodes } from '../../src/core/errors.ts';
import { PSK_ENTROPY_BYTES, devicePskLookup, rotateDevicePsk } from '../../src/core/psk/device-psk.ts';
import { sealedKeyId } from '../../src/core/secrets/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const SETTINGS = { masterKeyFile: null, masterKeyEnv: null };

describe('device PSKs', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-psk-'));
    store = await openSqliteStore(join(dir, 'palisade.db'));
    await store.devices.create({ id: 'cam-1', segment: 'default', status: 'active', attrs: {}, passwordHash: null, createdAt: 1 });
    await store.devices.create({ id: 'cam-2', segment: 'default', status: 'active', attrs: {}, passwordHash: null, createdAt: 1 });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const deps = () => ({ devices: store.devices, psks: store.devicePsks, secrets: openSecretBox(dir, SETTINGS) });

  it('generates 128 random bits per device, stores only the sealed form, replaces on rotate', async () => {
    const a = await rotateDevicePsk(deps(), 'cam-1');
    const b = await rotateDevicePsk(deps(), 'cam-2');
    // 32 hex characters: 128 bits of entropy, typeable as libcoap's -k text.
    expect(a.toString('ascii')).toMatch(new RegExp(`^[0-9a-f]{${PSK_ENTROPY_BYTES * 2}}$`));
    expect(a.equals(b)).toBe(false);
    const row = await store.devicePsks.get('cam-1');
    expect(row?.sealed).not.toContain(a.toString('ascii'));
    expect(row?.sealed).not.toContain(a.toString('hex'));
    expect(row?.sealed).not.toContain(a.toString('base64'));
    const lookup = devicePskLookup(deps());
    expect(await lookup('cam-1')).toEqual(a);
    const a2 = await rotateDevicePsk(deps(), 'cam-1');
    expect(await lookup('cam-1')).toEqual(a2);
    expect(a2.equals(a)).toBe(false);
  });

  it('a sealed PSK is bound to its device: moved to another row it does not open', async () => {
    await rotateDevicePsk(deps(), 'cam-1');
    await rotateDevicePsk(deps(), 'cam-2');
    const sealed1 = (await store.devicePsks.get('cam-1'))!.sealed;
    await store.devicePsks.put({ deviceId: 'cam-2', sealed: sealed1, createdAt: 2 });
    await expect(devicePskLookup(deps())('cam-2')).rejects.toThrow(/device-psk:cam-2/);
  });

  it('gives no PSK for unknown, disabled, key-less or malformed identities', async () => {
    await rotateDevicePsk(deps(), 'cam-1');
    const lookup = devicePskLookup(deps());
    expect(await lookup('cam-2')).toBeNull();
    expect(await lookup('nosuch')).toBeNull();
    expect(await lookup('../etc')).toBeNull();
    await store.devices.update('cam-1', { status: 'disabled' });
    expect(await lookup('cam-1')).toBeNull();
    await expect(rotateDevicePsk(deps(), 'nosuch')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });

  it('keys rotate re-wraps every PSK and the PSKs still open', async () => {
    const psk = await rotateDevicePsk(deps(), 'cam-1');
    const before = sealedKeyId((await store.devicePsks.get('cam-1'))!.sealed);
    await store.close();
    const lines: string[] = [];
    const result = await rotateMasterKey({ dataDir: dir, settings: SETTINGS, log: (l) => lines.push(l) });
    store = await openSqliteStore(join(dir, 'palisade.db'));
    const after = sealedKeyId((await store.devicePsks.get('cam-1'))!.sealed);
    expect(after).toBe(result.current);
    expect(after).not.toBe(before);
    expect(lines.some((l) => l.startsWith('device-psks: re-wrapped 1'))).toBe(true);
    expect(await devicePskLookup(deps())('cam-1')).toEqual(psk);
  });
});
