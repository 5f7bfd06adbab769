/**
 * Loads the credential deny-lists shipped in data/credentials (see its README for their
 * sources) for core/identity/credential-checks.ts, which reads no files itself. Read and
 * validated once per process; a malformed list is a packaging error and fails loudly.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { CredentialChecker, type CredentialLists, type CredentialPair } from '../core/identity/credential-checks.ts';

/** data/credentials in the project (src/store -> ../../data/credentials). */
export const CREDENTIAL_LISTS_DIR = fileURLToPath(new URL('../../data/credentials/', import.meta.url));

function fail(file: string, why: string): never {
  throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `credential list ${file}: ${why}`);
}

function readJson(dir: string, file: string): unknown {
  try {
    return JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as unknown;
  } catch (err) {
    return fail(file, err instanceof Error ? err.message : String(err));
  }
}

function pairs(value: unknown, file: string): CredentialPair[] {
  if (!Array.isArray(value)) fail(file, 'expected an array of {username, password}');
  return value.map((v: unknown, i) => {
    const { username, password } = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    if (typeof username !== 'string' || typeof password !== 'string') fail(file, `entry ${i} needs string username and password`);
    return { username, password };
  });
}

export function loadCredentialLists(dir: string = CREDENTIAL_LISTS_DIR): CredentialLists {
  const mirai = pairs(readJson(dir, 'mirai-credentials.json'), 'mirai-credentials.json');
  const defaults = readJson(dir, 'factory-defaults.json');
  if (typeof defaults !== 'object' || defaults === null) fail('factory-defaults.json', 'expected {pairs, passwords}');
  const { pairs: factoryPairs, passwords } = defaults as Record<string, unknown>;
  if (!Array.isArray(passwords) || !passwords.every((p) => typeof p === 'string')) fail('factory-defaults.json', 'passwords must be an array of strings');
  return { mirai, factoryPairs: pairs(factoryPairs, 'factory-defaults.json'), factoryPasswords: passwords };
}

let shipped: CredentialChecker | null = null;

/** A checker over the shipped lists, built once per process. */
export function shippedCredentialChecker(): CredentialChecker {
  shipped ??= new CredentialChecker(loadCredentialLists());
  return shipped;
}
