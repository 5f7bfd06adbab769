/**
 * `palisade keys rotate|status`: the master keyring of secrets at rest (issue 3, point 8).
 *
 * Rotation never leaves a window in which a record cannot be opened: the new keyring (new key
 * current, old keys kept) is renamed into place before any record is re-wrapped, each record
 * is replaced atomically, and an old key is removed only after a fresh scan finds no record
 * that still references it. A running gateway holds its CA keys in memory and re-reads the
 * key file when it changes, so it keeps working throughout.
 */
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import type { Store } from '../core/ports.ts';
import { SecretBox, countKeyReferences, generateMasterKey, rewrapLocation, type Keyring, type SealedRecordLocation } from '../core/secrets/index.ts';
import { describeOrigin, loadKeyring, writeKeyringFile, type SecretsSettings } from '../store/master-key.ts';
import { operatorSeedLocation } from '../core/operators/sealed-seeds.ts';
import { pkiSealedRecords } from '../store/pki-files.ts';
import { eventSigningKeyRecords } from '../store/event-signing-key.ts';
import { fingerprintKeySealedRecords } from '../store/credential-fingerprint-key.ts';
import { enrollmentSealedRecords } from '../core/enrollment/sealed-location.ts';
import { devicePskSealedRecords } from '../core/psk/sealed-location.ts';
import { openSqliteStore } from '../store/sqlite/sqlite-store.ts';
import { addCommonOptions, configFrom, type CommonOptions } from './common.ts';

export interface SealedLocationContext {
  dataDir: string;
  store: Store;
  secrets: SecretBox;
}

export type SealedLocationFactory = (ctx: SealedLocationContext) => SealedRecordLocation;

/**
 * Every place a sealed record lives. A feature that seals a secret (device PSKs, TOTP seeds,
 * enrollment tokens) adds its location here, and rotation covers it from then on.
 */
export const SEALED_LOCATIONS: readonly SealedLocationFactory[] = [
  ({ dataDir, secrets }) => pkiSealedRecords(dataDir, secrets),
  ({ store }) => operatorSeedLocation(store.operators),
  ({ dataDir }) => eventSigningKeyRecords(dataDir),
  ({ dataDir }) => fingerprintKeySealedRecords(dataDir),
  ({ store }) => enrollmentSealedRecords(store.enrollment),
  ({ store }) => devicePskSealedRecords(store.devicePsks),
];

export interface RotateOptions {
  dataDir: string;
  settings: SecretsSettings;
  env?: Record<string, string | undefined>;
  log: (line: string) => void;
  locations?: readonly SealedLocationFactory[];
  /** Runs once the new keyring is in place, before any record is re-wrapped (tests observe the window here). */
  afterNewKey?: () => Promise<void>;
}

export interface RotateResult {
  current: string;
  /** Null when the keyring comes from an environment variable, which Palisade cannot rewrite. */
  added: string | null;
  rewrapped: number;
  retired: string[];
  /** Previous keys still referenced (by records that failed to re-wrap). */
  kept: string[];
}

function lock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'keys-rotate.lock');
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `another key rotation is running (${path}; delete it if none is)`);
    throw err;
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return () => unlinkSync(path);
}

function keyList(keyring: Keyring): string {
  return `current ${keyring.current.id}; keys ${keyring.ids.join(', ')}`;
}

export async function rotateMasterKey(opts: RotateOptions): Promise<RotateResult> {
  const dataDir = resolve(opts.dataDir);
  const unlock = lock(dataDir);
  const store = await openSqliteStore(join(dataDir, 'palisade.db'));
  try {
    const { keyring: before, origin } = loadKeyring(dataDir, opts.settings, opts.env);
    opts.log(`keyring ${describeOrigin(origin)}: ${keyList(before)}`);

    let keyring = before;
    let added: string | null = null;
    if (origin.kind === 'file') {
      const fresh = generateMasterKey();
      keyring = before.withCurrent(fresh);
      writeKeyringFile(origin.path, keyring);
      added = fresh.id;
      opts.log(`added master key ${fresh.id} as current; previous keys stay until no record references them`);
    } else if (before.ids.length === 1) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `the master key comes from environment variable ${origin.name}, which palisade cannot rewrite: set it to a keyring {"v":1,"current":"<new id>","keys":{"${before.current.id}":"<old>","<new id>":"<new base64>"}} and run keys rotate again`);
    } else {
      opts.log(`re-wrapping under ${keyring.current.id}, the current key of environment variable ${origin.name}`);
    }
    await opts.afterNewKey?.();

    const box = new SecretBox(keyring);
    const locations = (opts.locations ?? SEALED_LOCATIONS).map((make) => make({ dataDir, store, secrets: box }));
    let rewrapped = 0;
    const failures: string[] = [];
    for (const location of locations) {
      const r = await rewrapLocation(box, location, keyring.current);
      rewrapped += r.rewrapped;
      opts.log(`${location.name}: re-wrapped ${r.rewrapped} record(s), ${r.alreadyCurrent} already under ${keyring.current.id}${r.failed.length > 0 ? `, ${r.failed.length} failed` : ''}`);
      for (const f of r.failed) failures.push(`${f.label}: ${f.error}`);
    }
    for (const f of failures) opts.log(`could not re-wrap ${f}`);

    // A fresh scan, not the counts above: it also sees records sealed meanwhile by a process
    // that had not yet picked up the new keyring.
    const refs = await countKeyReferences(locations);
    const retired: string[] = [];
    const kept: string[] = [];
    for (const id of keyring.ids) {
      if (id === keyring.current.id) continue;
      const n = refs.get(id) ?? 0;
      if (n === 0) retired.push(id);
      else kept.push(id);
      if (n > 0) opts.log(`kept master key ${id}: ${n} record(s) still reference it`);
    }
    if (retired.length > 0) {
      if (origin.kind === 'file') {
        keyring = retired.reduce((k, id) => k.without(id), keyring);
        writeKeyringFile(origin.path, keyring);
        for (const id of retired) opts.log(`retired master key ${id}: no record references it`);
      } else {
        for (const id of retired) opts.log(`master key ${id} is no longer referenced: remove it from environment variable ${origin.name}`);
      }
    }
    opts.log(`done: ${keyList(keyring)}`);
    if (failures.length > 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${failures.length} sealed record(s) could not be re-wrapped; their master key was kept`);
    return { current: keyring.current.id, added, rewrapped, retired, kept };
  } finally {
    await store.close();
    unlock();
  }
}

export async function keyStatus(opts: Omit<RotateOptions, 'afterNewKey'>): Promise<void> {
  const dataDir = resolve(opts.dataDir);
  const store = await openSqliteStore(join(dataDir, 'palisade.db'));
  try {
    const { keyring, origin } = loadKeyring(dataDir, opts.settings, opts.env);
    const secrets = new SecretBox(keyring);
    const refs = await countKeyReferences((opts.locations ?? SEALED_LOCATIONS).map((make) => make({ dataDir, store, secrets })));
    opts.log(`keyring ${describeOrigin(origin)}`);
    for (const id of keyring.ids) opts.log(`${id}\t${id === keyring.current.id ? 'current' : 'previous'}\t${refs.get(id) ?? 0} record(s)`);
    for (const [id, n] of refs) if (!keyring.get(id)) opts.log(`${id}\tmissing\t${n} record(s) reference a key the keyring does not hold`);
  } finally {
    await store.close();
  }
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('the master key that encrypts secrets at rest (CA keys, PSKs, TOTP seeds, tokens)');

  addCommonOptions(keys.command('rotate').description('add a new master key, re-wrap every sealed record under it, then retire the old key; safe while the gateway runs'))
    .action(async (opts: CommonOptions) => {
      const config = configFrom(opts);
      await rotateMasterKey({ dataDir: config.dataDir, settings: config.secrets, env: process.env, log: (line) => console.log(line) });
    });

  addCommonOptions(keys.command('status').description('list master keys and how many sealed records reference each'))
    .action(async (opts: CommonOptions) => {
      const config = configFrom(opts);
      await keyStatus({ dataDir: config.dataDir, settings: config.secrets, env: process.env, log: (line) => console.log(line) });
    });
}
