/**
 * Where the master keyring comes from (issue 3, point 8): by default DATA_DIR/master.key,
 * created 0600 on first use; or a file the operator names (secrets.masterKeyFile); or the
 * value of an environment variable the operator names (secrets.masterKeyEnv). Either holds a
 * keyring JSON (`{"v":1,"current":id,"keys":{id:base64}}`) or one bare base64 key. The
 * caller says which; this module reads only the variable it is told to.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { Keyring, SecretBox, generateMasterKey } from '../core/secrets/index.ts';

export interface SecretsSettings {
  /** null: DATA_DIR/master.key. */
  masterKeyFile: string | null;
  /** Name of an environment variable holding the key; null: use the file. */
  masterKeyEnv: string | null;
}

export type KeyringOrigin = { kind: 'file'; path: string } | { kind: 'env'; name: string };

export interface LoadedKeyring {
  keyring: Keyring;
  origin: KeyringOrigin;
  /** True when this call created the key file. */
  created: boolean;
}

type Env = Record<string, string | undefined>;

function fail(message: string): never {
  throw new PalisadeError(ErrorCodes.CONFIG_INVALID, message);
}

export function keyringOrigin(dataDir: string, settings: SecretsSettings): KeyringOrigin {
  if (settings.masterKeyFile !== null && settings.masterKeyEnv !== null) fail('config: secrets.masterKeyFile and secrets.masterKeyEnv name two master keys; set one');
  if (settings.masterKeyEnv !== null) return { kind: 'env', name: settings.masterKeyEnv };
  return { kind: 'file', path: resolve(settings.masterKeyFile ?? join(dataDir, 'master.key')) };
}

export function describeOrigin(origin: KeyringOrigin): string {
  return origin.kind === 'file' ? origin.path : `environment variable ${origin.name}`;
}

/** Writes via a temporary file and rename, so a reader sees the old or the new content, never half. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeNew(tmp, data, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
  syncDir(dirname(path));
}

export function writeKeyringFile(path: string, keyring: Keyring): void {
  writeFileAtomic(path, keyring.serialize(), 0o600);
}

function writeNew(path: string, data: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every platform can fsync a directory; the rename itself is still atomic
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Refuses a key file others could read: one line that says what to do. */
function checkMode(path: string, st: Stats): void {
  if (!st.isFile()) fail(`master key file ${path} is not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    fail(`master key file ${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must not be accessible to group or others: chmod 600 ${path}`);
  }
}

function readKeyringFile(path: string): { keyring: Keyring; stat: Stats } {
  const st = statOrNull(path);
  if (!st) fail(`master key file ${path} does not exist`);
  checkMode(path, st);
  return { keyring: Keyring.parse(readFileSync(path, 'utf8'), `master key file ${path}`), stat: st };
}

/** Creates the key file unless it exists; link() makes "create if absent" atomic between processes. */
function createKeyringFile(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeNew(tmp, Keyring.single(generateMasterKey()).serialize(), 0o600);
  try {
    linkSync(tmp, path);
    syncDir(dirname(path));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkQuiet(tmp);
  }
}

/** Loads the keyring; the default or named file is created with a fresh key on first use. */
export function loadKeyring(dataDir: string, settings: SecretsSettings, env: Env = process.env): LoadedKeyring {
  const { stat: _stat, ...loaded } = load(dataDir, settings, env);
  return loaded;
}

function load(dataDir: string, settings: SecretsSettings, env: Env): LoadedKeyring & { stat: Stats | null } {
  const origin = keyringOrigin(dataDir, settings);
  if (origin.kind === 'env') {
    const value = env[origin.name];
    if (value === undefined || value.trim() === '') fail(`environment variable ${origin.name} (secrets.masterKeyEnv) is not set`);
    return { keyring: Keyring.parse(value, `environment variable ${origin.name}`), origin, created: false, stat: null };
  }
  const created = statOrNull(origin.path) === null && createKeyringFile(origin.path);
  const { keyring, stat } = readKeyringFile(origin.path);
  return { keyring, origin, created, stat };
}

/**
 * The SecretBox the gateway and CLI use. With a key file it re-reads the file when it changes
 * (new inode after `keys rotate` renames a new keyring over it), so a running gateway seals
 * with the new current key and opens records re-wrapped under it without a restart. A stat
 * per use is cheap next to the AES work and the I/O around a secret.
 */
export function openSecretBox(dataDir: string, settings: SecretsSettings, env: Env = process.env): SecretBox {
  const loaded = load(dataDir, settings, env);
  const { origin } = loaded;
  if (origin.kind === 'env' || !loaded.stat) return new SecretBox(loaded.keyring);
  let cached = { keyring: loaded.keyring, stamp: stampOf(loaded.stat) };
  return new SecretBox(() => {
    const st = statOrNull(origin.path);
    if (!st) fail(`master key file ${origin.path} disappeared`);
    if (stampOf(st) !== cached.stamp) {
      const fresh = readKeyringFile(origin.path);
      cached = { keyring: fresh.keyring, stamp: stampOf(fresh.stat) };
    }
    return cached.keyring;
  });
}

function stampOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}`;
}
