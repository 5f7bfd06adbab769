/**
 * Secrets at rest on disk (issue 3, point 8): the master key file, the sealed CA keys, the
 * migration of plaintext CA keys, and `palisade keys rotate` while records are in use.
 */
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SEALED_LOCATIONS, registerKeysCommands, rotateMasterKey } from '../../src/cli/keys.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { registerDevice } from '../../src/core/fleet/register-device.ts';
import type { Store } from '../../src/core/ports.ts';
import { Keyring, SecretBox, bareKeyId, sealedKeyId } from '../../src/core/secrets/index.ts';
import { loadKeyring, openSecretBox, type SecretsSettings } from '../../src/store/master-key.ts';
import { ensurePki, loadCa, pkiDir } from '../../src/store/pki-files.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { addDevice } from './helpers/devices.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'palisade-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DEFAULT: SecretsSettings = { masterKeyFile: null, masterKeyEnv: null };
const HOSTS = ['localhost', '127.0.0.1'];
let n = 0;
let dir: string;
let store: Store;

beforeEach(async () => {
  dir = join(root, `d${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  store = await openSqliteStore(join(dir, 'palisade.db'));
});
afterEach(async () => store.close());

function refusal(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  return expect.fail('expected an error');
}

function caKeyIds(dataDir: string): string[] {
  return ['root-ca-key.sealed', 'issuing-ca-key.sealed'].map((f) => sealedKeyId(readFileSync(join(pkiDir(dataDir), f), 'utf8')));
}

async function palisade(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['src/cli/main.ts', ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A device certificate from the CA on disk, checked against the issuing CA's public key. */
async function signsDevices(dataDir: string, s: Store, secrets: SecretBox, id: string): Promise<void> {
  const ca = loadCa(dataDir, secrets);
  expect(ca).not.toBeNull();
  const { certificate } = await registerDevice(s, ca!, { id, segment: 'lab' });
  expect(new X509Certificate(certificate.certPem).verify(new X509Certificate(ca!.issuing.certPem).publicKey)).toBe(true);
}

describe('master key', () => {
  it('is created on first use as DATA_DIR/master.key with mode 0600, and reused after', () => {
    const first = loadKeyring(dir, DEFAULT);
    expect(first.created).toBe(true);
    const path = join(dir, 'master.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadKeyring(dir, DEFAULT);
    expect(again.created).toBe(false);
    expect(again.keyring.current.id).toBe(first.keyring.current.id);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ v: 1, current: first.keyring.current.id });
  });

  it('is refused with one clear line when group or others may read it', async () => {
    loadKeyring(dir, DEFAULT);
    const path = join(dir, 'master.key');
    chmodSync(path, 0o644);
    const err = refusal(() => loadKeyring(dir, DEFAULT));
    expect(isPalisadeError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect(err.message).toBe(`master key file ${path} has mode 0644; it must not be accessible to group or others: chmod 600 ${path}`);
    const cli = await palisade(['device', 'add', 'd1', '--segment', 'lab', '--data-dir', dir, '--out', join(dir, 'creds')]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr.trim().split('\n')).toEqual([`palisade: ${err.message}`]);
    expect(existsSync(join(dir, 'pki'))).toBe(false);
  });

  it('comes from the environment variable the operator names, as base64 or as a keyring', async () => {
    const key = randomBytes(32);
    const settings: SecretsSettings = { masterKeyFile: null, masterKeyEnv: 'MY_PALISADE_KEY' };
    const loaded = loadKeyring(dir, settings, { MY_PALISADE_KEY: key.toString('base64') });
    expect(loaded.origin).toEqual({ kind: 'env', name: 'MY_PALISADE_KEY' });
    expect(loaded.keyring.current.id).toBe(bareKeyId(key));
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
    const box = openSecretBox(dir, settings, { MY_PALISADE_KEY: key.toString('base64') });
    await ensurePki(dir, HOSTS, store, box);
    expect(caKeyIds(dir)).toEqual([bareKeyId(key), bareKeyId(key)]);
    const ring = Keyring.single(loaded.keyring.current).serialize();
    expect(loadCa(dir, openSecretBox(dir, settings, { MY_PALISADE_KEY: ring }))).not.toBeNull();
    expect(refusal(() => loadKeyring(dir, settings, {})).message).toBe('environment variable MY_PALISADE_KEY (secrets.masterKeyEnv) is not set');
    const other = openSecretBox(dir, settings, { MY_PALISADE_KEY: randomBytes(32).toString('base64') });
    expect(isPalisadeError(refusal(() => loadCa(dir, other)), ErrorCodes.PKI_FAILURE)).toBe(true);
  });

  it('comes from a file the operator names, created there 0600; the config carries both settings', () => {
    const path = join(dir, 'elsewhere', 'keyring.json');
    const loaded = loadKeyring(dir, { masterKeyFile: path, masterKeyEnv: null });
    expect(loaded.origin).toEqual({ kind: 'file', path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
    expect(loadConfig({}).secrets).toEqual({ masterKeyFile: null, masterKeyEnv: null });
    expect(loadConfig({ env: { PALISADE_SECRETS_MASTER_KEY_ENV: 'K1', PALISADE_SECRETS_MASTERKEYFILE: '/k' } }).secrets).toEqual({ masterKeyFile: '/k', masterKeyEnv: 'K1' });
    expect(refusal(() => loadKeyring(dir, { masterKeyFile: path, masterKeyEnv: 'K1' }, { K1: 'x' })).code).toBe(ErrorCodes.CONFIG_INVALID);
  });
});

describe('CA keys at rest', () => {
  it('are sealed on disk: no file under pki holds a private key in clear but the TLS server key', async () => {
    const box = openSecretBox(dir, DEFAULT);
    const pki = await ensurePki(dir, HOSTS, store, box);
    const files = readdirSync(pkiDir(dir));
    expect(files).toEqual(expect.arrayContaining(['root-ca-key.sealed', 'issuing-ca-key.sealed', 'root-ca.pem', 'issuing-ca.pem', 'ca.pem']));
    expect(files).not.toContain('root-ca-key.pem');
    expect(files).not.toContain('issuing-ca-key.pem');
    for (const f of files.filter((x) => x !== 'server-key.pem')) expect(readFileSync(join(pkiDir(dir), f), 'utf8'), f).not.toContain('PRIVATE KEY');
    for (const f of ['root-ca-key.sealed', 'issuing-ca-key.sealed', 'server-key.pem']) expect(statSync(join(pkiDir(dir), f)).mode & 0o077, f).toBe(0);
    expect(caKeyIds(dir)).toEqual(Array(2).fill(box.keyring.current.id));
    expect(pki.ca.issuing.keyPem).toContain('PRIVATE KEY');
    const again = await ensurePki(dir, HOSTS, store, openSecretBox(dir, DEFAULT));
    expect(again.created).toBe(false);
    expect(again.ca.issuing.keyPem).toBe(pki.ca.issuing.keyPem);
    await signsDevices(dir, store, box, 'dev-1');
  });

  it('are migrated from the plaintext files of an older version: sealed, then the plaintext deleted', async () => {
    const box = openSecretBox(dir, DEFAULT);
    const pki = await ensurePki(dir, HOSTS, store, box);
    const p = pkiDir(dir);
    // What the foundation release left on disk.
    writeFileSync(join(p, 'root-ca-key.pem'), pki.ca.root.keyPem, { mode: 0o600 });
    writeFileSync(join(p, 'issuing-ca-key.pem'), pki.ca.issuing.keyPem, { mode: 0o600 });
    unlinkSync(join(p, 'root-ca-key.sealed'));
    unlinkSync(join(p, 'issuing-ca-key.sealed'));
    const migrated = await ensurePki(dir, HOSTS, store, openSecretBox(dir, DEFAULT));
    expect(migrated.created).toBe(false);
    expect(migrated.ca.root.keyPem).toBe(pki.ca.root.keyPem);
    expect(migrated.ca.issuing.keyPem).toBe(pki.ca.issuing.keyPem);
    expect(existsSync(join(p, 'root-ca-key.pem'))).toBe(false);
    expect(existsSync(join(p, 'issuing-ca-key.pem'))).toBe(false);
    expect(readFileSync(join(p, 'issuing-ca-key.sealed'), 'utf8')).toMatch(/^pal1:/);
    // A crash between sealing and deleting leaves both: the next load finishes the job.
    writeFileSync(join(p, 'issuing-ca-key.pem'), pki.ca.issuing.keyPem, { mode: 0o600 });
    expect(loadCa(dir, box)?.issuing.keyPem).toBe(pki.ca.issuing.keyPem);
    expect(existsSync(join(p, 'issuing-ca-key.pem'))).toBe(false);
  });

  it('do not open when a sealed file is moved into the other slot', async () => {
    const box = openSecretBox(dir, DEFAULT);
    await ensurePki(dir, HOSTS, store, box);
    const p = pkiDir(dir);
    writeFileSync(join(p, 'issuing-ca-key.sealed'), readFileSync(join(p, 'root-ca-key.sealed')));
    expect(isPalisadeError(refusal(() => loadCa(dir, box)), ErrorCodes.PKI_FAILURE)).toBe(true);
  });
});

describe('palisade keys rotate', () => {
  it('adds a key, re-wraps every record, retires the old key; old-key records open throughout and the CA still signs', async () => {
    const running = openSecretBox(dir, DEFAULT); // what a running gateway holds
    const pki = await ensurePki(dir, HOSTS, store, running);
    const oldRing = running.keyring;
    const oldId = oldRing.current.id;
    const lines: string[] = [];
    let window: { keys: string[]; records: string[] } | undefined;
    const result = await rotateMasterKey({
      dataDir: dir,
      settings: DEFAULT,
      log: (l) => lines.push(l),
      afterNewKey: async () => {
        // New keyring in place, records not yet re-wrapped: they still name only the old key.
        const fresh = openSecretBox(dir, DEFAULT);
        window = { keys: fresh.keyring.ids, records: caKeyIds(dir) };
        expect(loadCa(dir, fresh)?.issuing.keyPem).toBe(pki.ca.issuing.keyPem);
        expect(loadCa(dir, running)?.issuing.keyPem).toBe(pki.ca.issuing.keyPem);
        await signsDevices(dir, store, fresh, 'during-rotation');
      },
    });
    expect(window?.keys).toHaveLength(2);
    expect(window?.keys).toContain(oldId);
    expect(window?.records).toEqual([oldId, oldId]);
    expect(result).toMatchObject({ rewrapped: 2, retired: [oldId], kept: [] });
    expect(result.current).not.toBe(oldId);
    expect(result.added).toBe(result.current);

    const after = loadKeyring(dir, DEFAULT).keyring;
    expect(after.ids).toEqual([result.current]);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(caKeyIds(dir)).toEqual([result.current, result.current]);
    expect(existsSync(join(dir, 'keys-rotate.lock'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // The retired key alone no longer opens anything; the box of a process started before the
    // rotation picks up the new keyring and keeps working.
    expect(isPalisadeError(refusal(() => loadCa(dir, new SecretBox(oldRing))), ErrorCodes.PKI_FAILURE)).toBe(true);
    expect(loadCa(dir, running)?.root.keyPem).toBe(pki.ca.root.keyPem);
    expect(sealedKeyId(running.seal('new secret', 'device:x:psk'))).toBe(result.current);
    await signsDevices(dir, store, openSecretBox(dir, DEFAULT), 'after-rotation');

    // One line per sealed location (SEALED_LOCATIONS grows as features seal secrets), between the key lines.
    expect(lines).toHaveLength(4 + SEALED_LOCATIONS.length);
    expect(lines[0]).toMatch(/^keyring .*master\.key: current mk-/);
    expect(lines[1]).toBe(`added master key ${result.current} as current; previous keys stay until no record references them`);
    expect(lines[2]).toBe(`pki: re-wrapped 2 record(s), 0 already under ${result.current}`);
    for (const line of lines.slice(3, -2)) expect(line).toMatch(new RegExp(`^[\\w -]+: re-wrapped \\d+ record\\(s\\), \\d+ already under ${result.current}$`));
    expect(lines.at(-2)).toBe(`retired master key ${oldId}: no record references it`);
    expect(lines.at(-1)).toBe(`done: current ${result.current}; keys ${result.current}`);

    const second = await rotateMasterKey({ dataDir: dir, settings: DEFAULT, log: () => undefined });
    expect(second.retired).toEqual([result.current]);
    expect(caKeyIds(dir)).toEqual([second.current, second.current]);
  });

  it('keeps the old key while a record still references it, and refuses a second rotation at once', async () => {
    const box = openSecretBox(dir, DEFAULT);
    await ensurePki(dir, HOSTS, store, box);
    const oldId = box.keyring.current.id;
    const stray = box.seal('x', 'device:d1:psk');
    const broken = { name: 'test', records: () => [{ label: 'row d1', context: 'device:d1:psk', sealed: stray, replace: () => Promise.reject(new Error('disk full')) }] };
    const lines: string[] = [];
    const err = await rotateMasterKey({ dataDir: dir, settings: DEFAULT, log: (l) => lines.push(l), locations: [() => broken] }).catch((e: unknown) => e);
    expect(isPalisadeError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect(lines).toContain('could not re-wrap row d1: disk full');
    expect(lines).toContain(`kept master key ${oldId}: 1 record(s) still reference it`);
    expect(loadKeyring(dir, DEFAULT).keyring.ids).toContain(oldId);
    expect(box.open(stray, 'device:d1:psk').toString()).toBe('x');

    writeFileSync(join(dir, 'keys-rotate.lock'), '1');
    const locked = await rotateMasterKey({ dataDir: dir, settings: DEFAULT, log: () => undefined }).catch((e: unknown) => e);
    expect(isPalisadeError(locked, ErrorCodes.ALREADY_EXISTS)).toBe(true);
    unlinkSync(join(dir, 'keys-rotate.lock'));
  });

  it('with the key in an environment variable: re-wraps under its current key and says which old key to drop', async () => {
    const ring = Keyring.parse(randomBytes(32).toString('base64'), 'test');
    const settings: SecretsSettings = { masterKeyFile: null, masterKeyEnv: 'PK' };
    await ensurePki(dir, HOSTS, store, openSecretBox(dir, settings, { PK: ring.serialize() }));
    const single = await rotateMasterKey({ dataDir: dir, settings, env: { PK: ring.serialize() }, log: () => undefined }).catch((e: unknown) => e);
    expect(isPalisadeError(single, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    const next = ring.withCurrent(Keyring.parse(randomBytes(32).toString('base64'), 'test').current);
    const lines: string[] = [];
    const r = await rotateMasterKey({ dataDir: dir, settings, env: { PK: next.serialize() }, log: (l) => lines.push(l) });
    expect(r).toMatchObject({ added: null, rewrapped: 2, retired: [ring.current.id] });
    expect(lines).toContain(`master key ${ring.current.id} is no longer referenced: remove it from environment variable PK`);
    expect(caKeyIds(dir)).toEqual([next.current.id, next.current.id]);
  });

  it('runs as a command: keys rotate and keys status', async () => {
    await ensurePki(dir, HOSTS, store, openSecretBox(dir, DEFAULT));
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    try {
      const program = new Command().exitOverride();
      registerKeysCommands(program);
      await program.parseAsync(['keys', 'rotate', '--data-dir', dir], { from: 'user' });
      await program.parseAsync(['keys', 'status', '--data-dir', dir], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    const current = loadKeyring(dir, DEFAULT).keyring.current.id;
    expect(out.some((l) => l.startsWith(`pki: re-wrapped 2 record(s)`))).toBe(true);
    expect(out.at(-1)).toBe(`${current}\tcurrent\t2 record(s)`);
  });

  it('palisade keys rotate --data-dir D, as a process', async () => {
    await ensurePki(dir, HOSTS, store, openSecretBox(dir, DEFAULT));
    const before = loadKeyring(dir, DEFAULT).keyring.current.id;
    const r = await palisade(['keys', 'rotate', '--data-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const after = loadKeyring(dir, DEFAULT).keyring.current.id;
    expect(after).not.toBe(before);
    expect(r.stdout).toContain(`retired master key ${before}`);
    expect(caKeyIds(dir)).toEqual([after, after]);
    await signsDevices(dir, store, openSecretBox(dir, DEFAULT), 'cli-rotated');
  });
});

describe('rotation under a running gateway', () => {
  it('keeps serving: a device registered after the rotation connects over mTLS', async () => {
    const t = await startTestGateway({}, join(dir, 'gw'));
    try {
      const before = await addDevice(t, 'before-1', 'lab');
      const r = await rotateMasterKey({ dataDir: t.dataDir, settings: t.config.secrets, log: () => undefined });
      expect(r.retired).toHaveLength(1);
      const after = await addDevice(t, 'after-1', 'lab');
      for (const d of [before, after]) {
        const c = await RawClient.tls(t.port('mqtts'), { ca: d.ca, cert: d.cert, key: d.key }, 4);
        expect((await c.connect({ clientId: d.id })).returnCode).toBe(0);
        c.destroy();
      }
      await t.restart();
      expect(caKeyIds(t.dataDir)).toEqual([r.current, r.current]);
    } finally {
      await t.stop();
    }
  });
});
