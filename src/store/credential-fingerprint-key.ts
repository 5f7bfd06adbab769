/**
 * The key of device credential fingerprints (core/identity/credential-fingerprint.ts):
 * 32 random bytes sealed under the master keyring (context `credentials:fingerprint-key`) in
 * DATA_DIR/credential-fingerprint-key.sealed, 0600. Created on first use; creation goes
 * through link(), so two processes racing (a CLI and the gateway) end up with one key, not two
 * that would make the same password fingerprint differently. Covered by `palisade keys rotate`
 * through fingerprintKeySealedRecords.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { FINGERPRINT_KEY_BYTES } from '../core/identity/credential-fingerprint.ts';
import type { SealedRecordEntry, SealedRecordLocation, SecretBox } from '../core/secrets/index.ts';
import { writeFileAtomic } from './master-key.ts';

export const FINGERPRINT_KEY_FILE = 'credential-fingerprint-key.sealed';
export const FINGERPRINT_KEY_CONTEXT = 'credentials:fingerprint-key';

function keyPath(dataDir: string): string {
  return join(dataDir, FINGERPRINT_KEY_FILE);
}

function createIfAbsent(path: string, sealed: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${sealed}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** The fingerprint key, created (and sealed) on first use. */
export function loadFingerprintKey(dataDir: string, secrets: SecretBox): Buffer {
  const path = keyPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    createIfAbsent(path, secrets.seal(randomBytes(FINGERPRINT_KEY_BYTES), FINGERPRINT_KEY_CONTEXT));
    text = readFileSync(path, 'utf8');
  }
  const key = secrets.open(text.trim(), FINGERPRINT_KEY_CONTEXT);
  if (key.length !== FINGERPRINT_KEY_BYTES) throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `${path}: the sealed key must be ${FINGERPRINT_KEY_BYTES} bytes`);
  return key;
}

/** The sealed fingerprint key, for `palisade keys rotate`. */
export function fingerprintKeySealedRecords(dataDir: string): SealedRecordLocation {
  const path = keyPath(dataDir);
  return {
    name: 'credential fingerprint key',
    *records(): Generator<SealedRecordEntry> {
      let sealed: string;
      try {
        sealed = readFileSync(path, 'utf8').trim();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      yield {
        label: FINGERPRINT_KEY_FILE,
        context: FINGERPRINT_KEY_CONTEXT,
        sealed,
        replace: (next: string) => {
          writeFileAtomic(path, `${next}\n`, 0o600);
          return Promise.resolve();
        },
      };
    },
  };
}
