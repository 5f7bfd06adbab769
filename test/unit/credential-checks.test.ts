/**
 * The credential checks (issue 3, point 3) against the lists shipped in data/credentials:
 * each refusal, the strength estimate's documented discounts, and generated credentials.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/core/errors.ts';
import { CREDENTIAL_MIN_BITS, CredentialChecker, checkCredential } from '../../src/core/identity/credential-checks.ts';
import { generateDeviceCredential } from '../../src/core/identity/credential-set.ts';
import { estimateEntropyBits } from '../../src/core/identity/credential-strength.ts';
import { generatePassword } from '../../src/core/identity/password.ts';
import { CREDENTIAL_LISTS_DIR, loadCredentialLists } from '../../src/store/credential-lists.ts';

const lists = loadCredentialLists();
const checker = new CredentialChecker(lists);
const reason = (secret: string, username: string | null = 'thermostat-17'): string | null => checker.check({ username, secret })?.reason ?? null;

describe('shipped lists', () => {
  it('ships the Mirai table unchanged (62 pairs) and a factory-default list of 100-300 entries', () => {
    // Pinned to the digest of ../shared/data/mirai-credentials.json, the copy it was taken from.
    const digest = createHash('sha256').update(readFileSync(`${CREDENTIAL_LISTS_DIR}/mirai-credentials.json`)).digest('hex');
    expect(digest).toBe('94de002402a3b8f5b30ced4b7c67ce07ea6530043b10c79b50d0e09c3b77b92e');
    expect(lists.mirai).toHaveLength(62);
    const n = lists.factoryPairs.length + lists.factoryPasswords.length;
    expect(n).toBeGreaterThanOrEqual(100);
    expect(n).toBeLessThanOrEqual(300);
    for (const [u, p] of [['admin', 'admin'], ['root', 'root'], ['ubnt', 'ubnt'], ['pi', 'raspberry'], ['support', 'support'], ['admin', '1234'], ['root', 'vizxv']]) {
      expect(lists.factoryPairs).toContainEqual({ username: u, password: p });
    }
    for (const p of ['1234', '12345', 'password', 'default']) expect(lists.factoryPasswords).toContain(p);
  });
});

describe('checkCredential refusals', () => {
  it('refuses every password of the Mirai table, whatever its case or username', () => {
    for (const { username, password } of lists.mirai) {
      const expected = password === '' ? 'empty' : 'mirai';
      expect(checker.check({ username, secret: password })?.reason, `${username}/${password}`).toBe(expected);
      if (password !== '') expect(reason(password.toUpperCase())).toBe('mirai');
    }
    expect(reason('xc3511')).toBe('mirai');
    expect(reason(' VIZXV ')).toBe('mirai');
  });

  it('refuses factory defaults, including long ones the strength bar alone would pass', () => {
    expect(reason('raspberry')).toBe('factory-default');
    expect(reason('RaspBerry')).toBe('factory-default');
    expect(reason('changeit')).toBe('factory-default');
    expect(reason('admintelecom')).toBe('factory-default');
    // 21 characters, ~100 bits by the estimate: only the list catches it.
    expect(estimateEntropyBits('factorycast@schneider')).toBeGreaterThan(CREDENTIAL_MIN_BITS);
    expect(reason('factorycast@schneider')).toBe('factory-default');
    expect(reason('Factorycast@Schneider')).toBe('factory-default');
  });

  it('refuses a password that equals or contains the username or device id, forwards or backwards', () => {
    expect(reason('thermostat-17', 'thermostat-17')).toBe('contains-identifier');
    expect(reason('My-THERMOSTAT-17-is-the-best!', 'thermostat-17')).toBe('contains-identifier');
    expect(reason('x71-tatsomreht#Qz9v', 'thermostat-17')).toBe('contains-identifier');
    expect(checker.check({ username: 'op', secret: 'Zx9#kq!2Lm7$Pv4w', identifiers: ['ops@example.com'] })).toBeNull();
    expect(checker.check({ username: 'op', secret: 'ops@example.com!Zx9#kq', identifiers: ['ops@example.com'] })?.reason).toBe('contains-identifier');
    // A 2-character id is only refused by equality: "contains" would refuse almost anything.
    expect(reason('Zx9#kq!2Lm7$Pv4w', 'Zx')).toBeNull();
    expect(reason('zx', 'Zx')).toBe('contains-identifier');
  });

  it('refuses short, weak and patterned passwords with the estimate in the detail', () => {
    expect(reason('')).toBe('empty');
    expect(reason('   ')).toBe('empty');
    expect(reason('Xq7#mP2!')).toBe('too-short');
    expect(reason('Summer2024!')).toBe('too-short');
    expect(reason('x'.repeat(257))).toBe('too-long');
    for (const weak of ['aaaaaaaaaaaaaaaaaaaa', 'abcdefghijklmnopqrst', '98765432109876543210', 'qwertyuiopasdfghjkl', 'abcabcabcabcabcabcabc', 'correcthorse', 'Password1234!', 'adminadminadmin1']) {
      expect(reason(weak), weak).toBe('too-weak');
    }
    const problem = checker.check({ username: 'd', secret: 'correcthorse' });
    expect(problem?.estimatedBits).toBeLessThan(CREDENTIAL_MIN_BITS);
    expect(problem?.message).toMatch(/^its estimated strength is \d+ bits; at least 60 are required/);
    expect(problem?.message).not.toContain('correcthorse');
  });

  it('accepts strong passwords and long passphrases', () => {
    for (const ok of ['v7#Kq2!mZp9@Lw', 'Zx9#kq!2Lm7$Pv4w', 'correct horse battery staple', 'tangerine-Octopus-41-velvet']) expect(reason(ok), ok).toBeNull();
  });

  it('throws CREDENTIAL_REFUSED with one line naming the reason, never the secret', () => {
    let err: unknown;
    try {
      checker.assert({ username: 'cam-1', secret: 'xmhdipc' }, 'operator password');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ErrorCodes.CREDENTIAL_REFUSED, message: "operator password refused: it is on the Mirai botnet's credential list", detail: { reason: 'mirai' } });
  });

  it('checkCredential is the same check with the lists passed in', () => {
    expect(checkCredential({ username: 'x', secret: 'root' }, lists)?.reason).toBe('mirai');
    expect(checkCredential({ username: 'x', secret: 'hunter2-bespoke' }, { mirai: [], factoryPairs: [], factoryPasswords: ['hunter2-bespoke'] })?.reason).toBe('factory-default');
  });
});

describe('strength estimate', () => {
  it('counts log2(pool) per character and discounts repeats, runs, keyboard walks, blocks and list words', () => {
    expect(estimateEntropyBits('qhzmwkxrtbvn')).toBeCloseTo(12 * Math.log2(26), 5);
    expect(estimateEntropyBits('qhzmwkxrtbv7')).toBeCloseTo(12 * Math.log2(36), 5);
    expect(estimateEntropyBits('aaaaaaaaaaaa')).toBeCloseTo(Math.log2(26) + 11, 5);
    expect(estimateEntropyBits('abcdefghijkl')).toBeCloseTo(2 * Math.log2(26) + 10, 5);
    expect(estimateEntropyBits('qwertyuiop')).toBeCloseTo(2 * Math.log2(26) + 8, 5);
    expect(estimateEntropyBits('xkqxkqxkqxkq')).toBeCloseTo(5 * Math.log2(26) + 7, 5);
    const dict = [Array.from('password')];
    expect(estimateEntropyBits('passwordZ', dict)).toBeCloseTo(Math.log2(2) + Math.log2(52), 5);
  });
});

describe('generated credentials', () => {
  it('are 24 random bytes (192 bits) in base64url, unique over 20,000 draws, and pass every check', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(Buffer.from(p, 'base64url')).toHaveLength(24);
      seen.add(p);
    }
    expect(seen.size).toBe(20_000);
    // Every bit position is used: over 20,000 draws each of the 192 bits is set roughly half the time.
    const ones = new Array<number>(192).fill(0);
    for (const p of seen) {
      const bytes = Buffer.from(p, 'base64url');
      for (let b = 0; b < 192; b++) ones[b]! += (bytes[b >> 3]! >> (b & 7)) & 1;
    }
    for (const n of ones) expect(Math.abs(n / 20_000 - 0.5)).toBeLessThan(0.02);
    for (let i = 0; i < 500; i++) {
      const g = generateDeviceCredential(checker, 'cam');
      expect(checker.check({ username: 'cam', secret: g })).toBeNull();
      expect(estimateEntropyBits(g)).toBeGreaterThanOrEqual(128);
    }
  });
});
