import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { Keyring, generateMasterKey, masterKey } from './keyring.ts';
import { SecretBox } from './secret-box.ts';
import { formatSealed, parseSealed, sealedKeyId, type SealedParts } from './sealed-format.ts';

const CTX = 'ca:issuing-key';

function box(): SecretBox {
  return new SecretBox(Keyring.single(generateMasterKey()));
}

function expectInvalid(fn: () => unknown, reason?: string): void {
  try {
    fn();
  } catch (err) {
    expect(isPalisadeError(err, ErrorCodes.INVALID_ARGUMENT), String(err)).toBe(true);
    if (reason !== undefined && isPalisadeError(err)) expect(err.detail?.['reason']).toBe(reason);
    return;
  }
  expect.fail('expected a PalisadeError');
}

function flip(sealed: string, field: keyof Omit<SealedParts, 'kid'>, bit = 0): string {
  const p = parseSealed(sealed);
  const buf = Buffer.from(p[field]);
  buf[bit >> 3]! ^= 1 << (bit & 7);
  return formatSealed({ ...p, [field]: buf });
}

describe('SecretBox: envelope encryption', () => {
  it('round-trips text and binary under a context', () => {
    const b = box();
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n';
    const sealed = b.seal(pem, CTX);
    expect(sealed.startsWith('pal1:')).toBe(true);
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(b.open(sealed, CTX).toString('utf8')).toBe(pem);
    const bin = randomBytes(1000);
    expect(b.open(b.seal(bin, 'device:d1:psk'), 'device:d1:psk').equals(bin)).toBe(true);
    expect(b.open(b.seal('', 'x'), 'x').length).toBe(0);
  });

  it('names the current master key in the record', () => {
    const k = generateMasterKey();
    expect(sealedKeyId(new SecretBox(Keyring.single(k)).seal('s', CTX))).toBe(k.id);
  });

  it('gives each record its own data key and IV: the same plaintext seals differently', () => {
    const b = box();
    const one = parseSealed(b.seal('same secret', CTX));
    const two = parseSealed(b.seal('same secret', CTX));
    expect(one.ciphertext.equals(two.ciphertext)).toBe(false);
    expect(one.wrappedKey.equals(two.wrappedKey)).toBe(false);
    expect(one.iv.equals(two.iv)).toBe(false);
  });

  for (const field of ['ciphertext', 'tag', 'iv', 'wrappedKey', 'wrapTag', 'wrapIv'] as const) {
    it(`refuses a record with one bit flipped in ${field}`, () => {
      const b = box();
      const sealed = b.seal('a secret worth protecting', CTX);
      for (const bit of [0, 7, 13]) expectInvalid(() => b.open(flip(sealed, field, bit), CTX), 'authentication');
    });
  }

  it('refuses the wrong context, so a record cannot be moved to another slot', () => {
    const b = box();
    const sealed = b.seal('psk of d1', 'device:d1:psk');
    expectInvalid(() => b.open(sealed, 'device:d2:psk'), 'authentication');
    expectInvalid(() => b.open(sealed, 'device:d1:psk '), 'authentication');
  });

  it('refuses the wrong master key, even one given the same id', () => {
    const k = generateMasterKey();
    const sealed = new SecretBox(Keyring.single(k)).seal('s', CTX);
    expectInvalid(() => new SecretBox(Keyring.single(generateMasterKey())).open(sealed, CTX), 'unknown-key');
    const impostor = masterKey(k.id, randomBytes(32));
    expectInvalid(() => new SecretBox(Keyring.single(impostor)).open(sealed, CTX), 'authentication');
  });

  it('refuses a record whose key id was changed to another key of the keyring', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    const ring = new Keyring([a, b], a.id);
    const sealed = new SecretBox(ring).seal('s', CTX);
    expectInvalid(() => new SecretBox(ring).open(formatSealed({ ...parseSealed(sealed), kid: b.id }), CTX), 'authentication');
  });

  it('refuses malformed text with a stable code', () => {
    const b = box();
    const sealed = b.seal('s', CTX);
    for (const bad of ['', 'pal2:x', 'not sealed', `${sealed}:extra`, sealed.replace(/:[^:]+$/, ':***'), sealed.slice(0, 40)]) {
      expectInvalid(() => b.open(bad, CTX), 'malformed');
    }
    expectInvalid(() => b.seal('s', ''));
  });

  it('rewrap keeps the plaintext and the bulk ciphertext and changes only the wrapped key', () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const b = new SecretBox(new Keyring([oldKey, newKey], oldKey.id));
    const sealed = b.seal('ca private key', CTX);
    const next = b.rewrap(sealed, CTX, newKey);
    const [p, q] = [parseSealed(sealed), parseSealed(next)];
    expect(q.kid).toBe(newKey.id);
    expect(q.wrappedKey.equals(p.wrappedKey)).toBe(false);
    expect(q.ciphertext.equals(p.ciphertext)).toBe(true);
    expect(q.iv.equals(p.iv) && q.tag.equals(p.tag)).toBe(true);
    expect(new SecretBox(Keyring.single(newKey)).open(next, CTX).toString()).toBe('ca private key');
    expectInvalid(() => new SecretBox(Keyring.single(oldKey)).open(next, CTX), 'unknown-key');
  });

  it('rewrap defaults to the current key and refuses the wrong context', () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const sealed = new SecretBox(Keyring.single(oldKey)).seal('x', CTX);
    const b = new SecretBox(new Keyring([oldKey, newKey], newKey.id));
    expect(sealedKeyId(b.rewrap(sealed, CTX))).toBe(newKey.id);
    expectInvalid(() => b.rewrap(sealed, 'ca:root-key'), 'authentication');
  });

  it('reads the keyring through a function on each use, so a rotated keyring applies at once', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    let ring = Keyring.single(a);
    const live = new SecretBox(() => ring);
    const old = live.seal('s', CTX);
    ring = ring.withCurrent(b);
    expect(sealedKeyId(live.seal('t', CTX))).toBe(b.id);
    expect(live.open(old, CTX).toString()).toBe('s');
  });
});
