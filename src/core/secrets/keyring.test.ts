import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { Keyring, bareKeyId, generateMasterKey, masterKey } from './keyring.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isPalisadeError(err) ? err.code : 'not-palisade';
  }
  return undefined;
}

describe('Keyring', () => {
  it('serialises and parses back the same keys and current id', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    const ring = new Keyring([a, b], b.id);
    const back = Keyring.parse(ring.serialize(), 'test');
    expect(back.current.id).toBe(b.id);
    expect(back.ids.sort()).toEqual([a.id, b.id].sort());
    expect(back.get(a.id)!.key.equals(a.key)).toBe(true);
    expect(JSON.parse(ring.serialize())).toMatchObject({ v: 1, current: b.id });
  });

  it('accepts one bare base64 key with a stable derived id', () => {
    const key = randomBytes(32);
    const one = Keyring.parse(key.toString('base64'), 'env');
    const two = Keyring.parse(`${key.toString('base64url')}\n`, 'env');
    expect(one.current.id).toBe(bareKeyId(key));
    expect(two.current.id).toBe(one.current.id);
    expect(one.current.key.equals(key)).toBe(true);
  });

  it('refuses short keys, bad ids, a missing current key and garbage, without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(code(() => Keyring.parse(short, 'env X'))).toBe(ErrorCodes.CONFIG_INVALID);
    try {
      Keyring.parse(short, 'env X');
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
    expect(code(() => masterKey('bad:id', randomBytes(32)))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(code(() => Keyring.parse(JSON.stringify({ v: 1, current: 'x', keys: { y: randomBytes(32).toString('base64') } }), 'f'))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(code(() => Keyring.parse('{nope', 'f'))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(code(() => Keyring.parse(JSON.stringify({ v: 2, current: 'x', keys: {} }), 'f'))).toBe(ErrorCodes.CONFIG_INVALID);
  });

  it('adds a current key and removes previous ones, never the current', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    const ring = Keyring.single(a).withCurrent(b);
    expect(ring.current.id).toBe(b.id);
    expect(ring.ids).toContain(a.id);
    expect(ring.without(a.id).ids).toEqual([b.id]);
    expect(code(() => ring.without(b.id))).toBe(ErrorCodes.CONFIG_INVALID);
  });

  it('generates distinct ids and keys', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    expect(a.id).not.toBe(b.id);
    expect(a.key.equals(b.key)).toBe(false);
    expect(a.id).toMatch(/^mk-\d{8}-[0-9a-f]{8}$/);
  });
});
