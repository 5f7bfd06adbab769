/**
 * The Ed25519 key that signs event-log checkpoints (issue 3, point 9), in DATA_DIR/events:
 *
 *   signing-key.sealed   the private key (PKCS#8 PEM) sealed under the master keyring
 *                        (context `events:signing-key`), 0600; re-wrapped by `keys rotate`
 *   signing-key.pub.pem  the public key in clear, so `palisade events verify` needs no master
 *                        key; copy it off the box (or pass --public-key) to pin it
 *
 * Created on first use. The private key exists in clear only in the gateway's memory.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519Signer, type EventSigner } from '../core/events/checkpoint.ts';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import type { SealedRecordEntry, SealedRecordLocation, SecretBox } from '../core/secrets/index.ts';
import { writeFileAtomic } from './master-key.ts';

const DIR = 'events';
const SEALED = 'signing-key.sealed';
const PUBLIC = 'signing-key.pub.pem';
const CONTEXT = 'events:signing-key';

export function eventKeyPaths(dataDir: string): { dir: string; sealed: string; publicKey: string } {
  const dir = join(dataDir, DIR);
  return { dir, sealed: join(dir, SEALED), publicKey: join(dir, PUBLIC) };
}

function openPrivateKey(path: string, secrets: SecretBox): KeyObject {
  try {
    return createPrivateKey(secrets.open(readFileSync(path, 'utf8').trim(), CONTEXT).toString('utf8'));
  } catch (err) {
    throw new PalisadeError(ErrorCodes.PKI_FAILURE, `${DIR}/${SEALED}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The checkpoint signer, creating the key pair when there is none. */
export function ensureEventSigningKey(dataDir: string, secrets: SecretBox): EventSigner {
  const p = eventKeyPaths(dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  let privateKey: KeyObject;
  if (existsSync(p.sealed)) {
    privateKey = openPrivateKey(p.sealed, secrets);
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeFileAtomic(p.sealed, `${secrets.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }), CONTEXT)}\n`, 0o600);
  }
  // Rewritten from the private key when missing or different, so the two never disagree.
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  if (!existsSync(p.publicKey) || readFileSync(p.publicKey, 'utf8') !== publicPem) writeFileAtomic(p.publicKey, publicPem, 0o644);
  return ed25519Signer(privateKey);
}

/** The public key from `file` (default DATA_DIR/events/signing-key.pub.pem); null when absent. */
export function loadEventPublicKey(dataDir: string, file?: string): KeyObject | null {
  const path = file ?? eventKeyPaths(dataDir).publicKey;
  if (!existsSync(path)) {
    if (file !== undefined) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${file}: no such public key file`);
    return null;
  }
  try {
    const key = createPublicKey(readFileSync(path, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
    return key;
  } catch (err) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${path}: not an Ed25519 public key (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** The sealed signing key, for `palisade keys rotate`. */
export function eventSigningKeyRecords(dataDir: string): SealedRecordLocation {
  const { sealed } = eventKeyPaths(dataDir);
  return {
    name: 'event-log signing key',
    *records(): Generator<SealedRecordEntry> {
      if (!existsSync(sealed)) return;
      yield {
        label: `${DIR}/${SEALED}`,
        context: CONTEXT,
        sealed: readFileSync(sealed, 'utf8').trim(),
        replace: (next: string) => {
          writeFileAtomic(sealed, `${next}\n`, 0o600);
          return Promise.resolve();
        },
      };
    },
  };
}
