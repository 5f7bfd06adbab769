/** Connection rates and caps at accept (shield/admission.ts), on a fake clock. */
import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/shield/admission.ts';
import { TokenBucket } from '../../src/shield/rate/token-bucket.ts';
import type { BanList, BanRecord } from '../../src/shield/bans/types.ts';

describe('TokenBucket', () => {
  it('allows the burst at once, then the sustained rate', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.tryTake(1, 0)).toBe(true);
    expect(b.tryTake(1, 0)).toBe(false);
    // 10/s: one token per 100 ms.
    expect(b.tryTake(1, 99)).toBe(false);
    expect(b.tryTake(1, 100)).toBe(true);
    expect(b.tryTake(1, 100)).toBe(false);
    // Never more than the burst however long it rests.
    let n = 0;
    while (b.tryTake(1, 1_000_000)) n++;
    expect(n).toBe(5);
    expect(b.idle(2_000_000)).toBe(true);
  });
});

describe('Admission', () => {
  const rate = { perAddressPerSecond: 2, perAddressBurst: 3, globalPerSecond: 5, globalBurst: 6 };

  it('refuses an address past its own rate without spending the global budget others share', () => {
    let now = 0;
    const a = new Admission({ maxConnections: 1000, maxConnectionsPerAddress: 1000, connectionRate: rate }, { now: () => now });
    const flood = Array.from({ length: 50 }, () => a.admit('198.51.100.1'));
    expect(flood.filter((v) => v.admitted)).toHaveLength(3);
    expect(flood.at(-1)).toEqual({ admitted: false, reason: 'address-rate' });
    // Three of the six global tokens are left for everyone else.
    expect(a.admit('198.51.100.2').admitted).toBe(true);
    expect(a.admit('198.51.100.3').admitted).toBe(true);
    expect(a.admit('198.51.100.4').admitted).toBe(true);
    expect(a.admit('198.51.100.5')).toEqual({ admitted: false, reason: 'global-rate' });
    now = 1000;
    expect(a.admit('198.51.100.1').admitted).toBe(true);
    expect(a.admit('198.51.100.5').admitted).toBe(true);
  });

  it('keeps the concurrent caps, overall and per address, released on close', () => {
    const a = new Admission({ maxConnections: 3, maxConnectionsPerAddress: 2 });
    expect(a.admit('10.0.0.1').admitted).toBe(true);
    expect(a.admit('10.0.0.1').admitted).toBe(true);
    expect(a.admit('10.0.0.1')).toEqual({ admitted: false, reason: 'max-per-address' });
    expect(a.admit('10.0.0.2').admitted).toBe(true);
    expect(a.admit('10.0.0.3')).toEqual({ admitted: false, reason: 'max-connections' });
    a.release('10.0.0.1');
    expect(a.total).toBe(2);
    expect(a.admit('10.0.0.3').admitted).toBe(true);
  });

  it('refuses a banned address first, before rates are spent', () => {
    const ban: BanRecord = { id: 7, kind: 'address', value: '10.0.0.0/8', reason: 'r', expiresAt: null, by: 'op', createdAt: 0 };
    const bans = { match: (k: { address?: string }) => (k.address?.startsWith('10.') ? ban : null) } as unknown as BanList;
    const a = new Admission({ maxConnections: 10, maxConnectionsPerAddress: 10, connectionRate: { ...rate, perAddressBurst: 1 } }, { bans, now: () => 0 });
    expect(a.admit('10.9.9.9')).toEqual({ admitted: false, reason: 'banned', ban });
    expect(a.admit('10.9.9.9')).toEqual({ admitted: false, reason: 'banned', ban });
    expect(a.admit('11.0.0.1').admitted).toBe(true);
  });
});
