import { describe, expect, it } from 'vitest';
import { AuthThrottle } from './auth-throttle.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('AuthThrottle', () => {
  it('bans an address after its threshold, with a ban that doubles each time', () => {
    const c = clock();
    const th = new AuthThrottle({ addressThreshold: 3, baseBanMs: 1000 }, c.now);
    const k = { address: '10.0.0.1', username: null, certSerial: null };
    expect(th.failure(k)).toEqual([]);
    th.failure(k);
    expect(th.failure(k)).toEqual(['address']);
    expect(th.check(k)).toEqual({ allowed: false, key: 'address', retryAfterMs: 1000 });
    c.advance(1001);
    expect(th.check(k).allowed).toBe(true);
    for (let i = 0; i < 3; i++) th.failure(k);
    expect(th.check(k)).toMatchObject({ allowed: false, retryAfterMs: 2000 });
    expect(th.checkAddress('10.0.0.2').allowed).toBe(true);
  });

  it('stops credential stuffing on one username from many addresses, but not its known-good address', () => {
    const c = clock();
    const th = new AuthThrottle({ usernameThreshold: 5, addressThreshold: 100 }, c.now);
    th.success({ address: '192.0.2.10', username: 'cam-1', certSerial: null });
    for (let i = 0; i < 5; i++) th.failure({ address: `198.51.100.${i}`, username: 'cam-1', certSerial: null });
    expect(th.check({ address: '198.51.100.77', username: 'cam-1', certSerial: null })).toMatchObject({ allowed: false, key: 'username' });
    // The device itself, from the address it used before, is unaffected.
    expect(th.check({ address: '192.0.2.10', username: 'cam-1', certSerial: null }).allowed).toBe(true);
    expect(th.check({ address: '198.51.100.77', username: 'cam-2', certSerial: null }).allowed).toBe(true);
  });

  it('bans a certificate that keeps failing, whatever address it comes from', () => {
    const th = new AuthThrottle({ certificateThreshold: 2 });
    th.failure({ address: 'a', username: null, certSerial: 'ab12' });
    th.failure({ address: 'b', username: null, certSerial: 'ab12' });
    expect(th.check({ address: 'c', username: null, certSerial: 'ab12' })).toMatchObject({ allowed: false, key: 'certificate' });
  });

  it('forgets failures after the window', () => {
    const c = clock();
    const th = new AuthThrottle({ addressThreshold: 2, windowMs: 1000 }, c.now);
    const k = { address: 'x', username: null, certSerial: null };
    th.failure(k);
    c.advance(2000);
    expect(th.failure(k)).toEqual([]);
    expect(th.check(k).allowed).toBe(true);
  });
});
