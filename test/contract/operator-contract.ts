/**
 * Store contract cases for operator accounts and tokens (core/operators): called from
 * runStoreContract, so every Store implementation runs them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import type { Operator, OperatorToken } from '../../src/core/operators/index.ts';
import type { Store } from '../../src/core/ports.ts';

function op(overrides: Partial<Operator> = {}): Operator {
  return { username: 'alice', role: 'admin', status: 'active', passwordHash: 'scrypt$x', totpSealed: null, mfa: 'none', totpLastStep: null, createdAt: 1_700_000_000_000, createdBy: null, ...overrides };
}

function token(overrides: Partial<OperatorToken> = {}): OperatorToken {
  return { id: 'tok_1', operator: 'alice', kind: 'api', hash: 'a'.repeat(64), name: 'ci', scopes: ['devices:read'], createdAt: 1000, expiresAt: 2000, revokedAt: null, ...overrides };
}

export function runOperatorContract(current: () => Store): void {
  describe('operators', () => {
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('creates, reads back and refuses a taken username', async () => {
      await store.operators.create(op({ totpSealed: 'sealed-1', mfa: 'pending', createdBy: 'root' }));
      expect(await store.operators.get('alice')).toEqual(op({ totpSealed: 'sealed-1', mfa: 'pending', createdBy: 'root' }));
      const err = await store.operators.create(op()).catch((e: unknown) => e);
      expect((err as PalisadeError).code).toBe(ErrorCodes.ALREADY_EXISTS);
      expect(await store.operators.get('nobody')).toBeNull();
      expect(await store.operators.count()).toBe(1);
    });

    it('creates the first operator only when there is none (setup)', async () => {
      expect(await store.operators.createFirst(op())).toBe(true);
      expect(await store.operators.createFirst(op({ username: 'bob' }))).toBe(false);
      expect((await store.operators.list()).map((o) => o.username)).toEqual(['alice']);
    });

    it('updates given fields only, and accepts each TOTP step once, in increasing order', async () => {
      await store.operators.create(op());
      expect(await store.operators.update('alice', { role: 'viewer', mfa: 'active', totpSealed: 's' })).toBe(true);
      expect(await store.operators.get('alice')).toMatchObject({ role: 'viewer', mfa: 'active', totpSealed: 's', status: 'active' });
      expect(await store.operators.update('ghost', { role: 'viewer' })).toBe(false);
      expect(await store.operators.useTotpStep('alice', 100)).toBe(true);
      expect(await store.operators.useTotpStep('alice', 100)).toBe(false);
      expect(await store.operators.useTotpStep('alice', 99)).toBe(false);
      expect(await store.operators.useTotpStep('alice', 101)).toBe(true);
      expect(await store.operators.update('alice', { totpSealed: null, totpLastStep: null })).toBe(true);
      expect(await store.operators.get('alice')).toMatchObject({ totpSealed: null, totpLastStep: null });
    });

    it('lists sealed seeds and replaces one only while it is unchanged', async () => {
      await store.operators.create(op({ totpSealed: 'old' }));
      await store.operators.create(op({ username: 'bob' }));
      expect(await store.operators.listSealedSeeds()).toEqual([{ username: 'alice', sealed: 'old' }]);
      expect(await store.operators.replaceSealedSeed('alice', 'stale', 'new')).toBe(false);
      expect(await store.operators.replaceSealedSeed('alice', 'old', 'new')).toBe(true);
      expect((await store.operators.get('alice'))?.totpSealed).toBe('new');
    });

    it('stores tokens by hash, revokes once, and deletes them with their operator', async () => {
      await store.operators.create(op());
      await store.operatorTokens.create(token());
      await store.operatorTokens.create(token({ id: 'tok_2', hash: 'b'.repeat(64), kind: 'session', scopes: [], createdAt: 1500 }));
      expect(await store.operatorTokens.getByHash('a'.repeat(64))).toEqual(token());
      expect(await store.operatorTokens.get('tok_2')).toMatchObject({ kind: 'session', scopes: [] });
      expect((await store.operatorTokens.list({ operator: 'alice' })).map((t) => t.id)).toEqual(['tok_2', 'tok_1']);
      expect((await store.operatorTokens.list({ kind: 'api' })).map((t) => t.id)).toEqual(['tok_1']);
      const dup = await store.operatorTokens.create(token()).catch((e: unknown) => e);
      expect((dup as PalisadeError).code).toBe(ErrorCodes.ALREADY_EXISTS);
      expect(await store.operatorTokens.revoke('tok_1', 1700)).toBe(true);
      expect(await store.operatorTokens.revoke('tok_1', 1800)).toBe(false);
      expect((await store.operatorTokens.get('tok_1'))?.revokedAt).toBe(1700);
      expect(await store.operatorTokens.revokeAllFor('alice', 1900)).toBe(1);
      expect(await store.operators.delete('alice')).toBe(true);
      expect(await store.operatorTokens.list()).toEqual([]);
    });
  });
}
