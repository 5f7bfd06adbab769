/**
 * Master keys (key-encryption keys) by id. A keyring holds the current key, which seals new
 * records, and any previous keys still referenced by records sealed before a rotation, so
 * those keep opening while `palisade keys rotate` re-wraps them. Immutable: every change
 * returns a new keyring, so a reader never sees half a rotation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';

export const MASTER_KEY_BYTES = 32;
/** Ids appear inside sealed records (`pal1:<kid>:...`), so they may not contain a separator. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface MasterKey {
  readonly id: string;
  /** 256-bit AES key. */
  readonly key: Buffer;
}

function invalid(message: string): never {
  throw new PalisadeError(ErrorCodes.CONFIG_INVALID, message);
}

export function masterKey(id: string, key: Buffer): MasterKey {
  if (!KEY_ID_PATTERN.test(id)) invalid(`master key id "${id}" must match ${KEY_ID_PATTERN.source}`);
  if (key.length !== MASTER_KEY_BYTES) invalid(`master key ${id} must be ${MASTER_KEY_BYTES} bytes, not ${key.length}`);
  return Object.freeze({ id, key: Buffer.from(key) });
}

/** A fresh random key; the id carries the creation date so an operator can tell keys apart. */
export function generateMasterKey(now: Date = new Date()): MasterKey {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return masterKey(`mk-${day}-${randomBytes(4).toString('hex')}`, randomBytes(MASTER_KEY_BYTES));
}

/** Strict base64 (standard or url alphabet) of exactly 32 bytes, e.g. from `openssl rand -base64 32`. */
export function decodeKeyBase64(text: string, what: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) invalid(`${what}: not base64`);
  const key = Buffer.from(t.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
  if (key.length !== MASTER_KEY_BYTES) invalid(`${what}: must decode to ${MASTER_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

/** The id of a bare key (one given without a keyring around it): derived from the key so it is stable across restarts. */
export function bareKeyId(key: Buffer): string {
  return `k-${createHash('sha256').update('palisade master key id\0').update(key).digest('hex').slice(0, 12)}`;
}

export class Keyring {
  readonly #keys: ReadonlyMap<string, MasterKey>;
  readonly #current: MasterKey;

  constructor(keys: Iterable<MasterKey>, currentId: string) {
    const map = new Map<string, MasterKey>();
    for (const k of keys) {
      const checked = masterKey(k.id, k.key);
      if (map.has(checked.id)) invalid(`master key id ${checked.id} appears twice`);
      map.set(checked.id, checked);
    }
    const current = map.get(currentId);
    if (!current) invalid(`keyring: current key ${currentId} is not among its keys`);
    this.#keys = map;
    this.#current = current;
  }

  static single(key: MasterKey): Keyring {
    return new Keyring([key], key.id);
  }

  /** The key that seals new records. */
  get current(): MasterKey {
    return this.#current;
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  get(id: string): MasterKey | undefined {
    return this.#keys.get(id);
  }

  /** Adds a key and makes it current. */
  withCurrent(key: MasterKey): Keyring {
    return new Keyring([...[...this.#keys.values()].filter((k) => k.id !== key.id), key], key.id);
  }

  /** Drops a previous key; the current key cannot be dropped. */
  without(id: string): Keyring {
    if (id === this.#current.id) invalid(`keyring: cannot remove the current key ${id}`);
    return new Keyring([...this.#keys.values()].filter((k) => k.id !== id), this.#current.id);
  }

  /** The keyring file format: `{"v":1,"current":"<id>","keys":{"<id>":"<base64>"}}`. */
  serialize(): string {
    const keys: Record<string, string> = {};
    for (const k of this.#keys.values()) keys[k.id] = k.key.toString('base64');
    return `${JSON.stringify({ v: 1, current: this.#current.id, keys }, null, 2)}\n`;
  }

  /**
   * Reads a keyring file or variable: either the JSON above, or one bare base64 key (what
   * `openssl rand -base64 32` prints), whose id is derived from the key. `origin` names the
   * source in errors; the key material never appears in one.
   */
  static parse(text: string, origin: string): Keyring {
    const t = text.trim();
    if (!t.startsWith('{')) {
      const key = decodeKeyBase64(t, origin);
      return Keyring.single(masterKey(bareKeyId(key), key));
    }
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch {
      invalid(`${origin}: keyring is not valid JSON`);
    }
    if (typeof doc !== 'object' || doc === null) invalid(`${origin}: keyring must be a JSON object`);
    const { v, current, keys } = doc as { v?: unknown; current?: unknown; keys?: unknown };
    if (v !== 1) invalid(`${origin}: unsupported keyring version ${JSON.stringify(v)}`);
    if (typeof current !== 'string') invalid(`${origin}: keyring needs "current", a key id`);
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) invalid(`${origin}: keyring needs "keys", an object of id: base64 key`);
    const list: MasterKey[] = [];
    for (const [id, b64] of Object.entries(keys as Record<string, unknown>)) {
      if (typeof b64 !== 'string') invalid(`${origin}: key ${id} must be a base64 string`);
      list.push(masterKey(id, decodeKeyBase64(b64, `${origin}: key ${id}`)));
    }
    return new Keyring(list, current);
  }
}
