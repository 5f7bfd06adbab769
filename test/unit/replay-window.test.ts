/**
 * Replay windows (issue 5, point 5): the counter window against a simple model (a set of
 * everything accepted), with fast-check; the nonce window's skew, duplicate, eviction horizon and
 * expiry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CounterWindow } from '../../src/device-kit/counter-window.ts';
import { NonceWindow } from '../../src/shield/replay/nonce-window.ts';

/**
 * The specification: accepted iff never accepted before and above (highest accepted - W). A
 * window restored at `start` counts 1..start as already accepted.
 */
class Model {
  readonly seen = new Set<number>();
  highest: number;
  readonly size: number;
  constructor(size: number, start: number) {
    this.size = size;
    this.highest = start;
    for (let c = 1; c <= start; c++) this.seen.add(c);
  }
  admit(c: number): boolean {
    if (c < 1 || c <= this.highest - this.size || this.seen.has(c)) return false;
    this.seen.add(c);
    this.highest = Math.max(this.highest, c);
    return true;
  }
}

describe('CounterWindow', () => {
  it('accepts a counter iff it was not seen and is not older than the window (random sequences)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 130 }),
        fc.integer({ min: 0, max: 300 }),
        // Offsets from the current highest: mostly just ahead or inside the window (in order,
        // reordered, replayed), sometimes below it or far ahead.
        fc.array(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -8, max: 3 }) }, { weight: 3, arbitrary: fc.integer({ min: -140, max: 0 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 300 }) }), { maxLength: 500 }),
        (size, start, offsets) => {
          const w = new CounterWindow(size, start);
          const m = new Model(size, start);
          for (const off of offsets) {
            const c = m.highest + off;
            const expected = m.admit(c);
            expect(w.admit(c) === 'ok', `counter ${c} (size ${size}, start ${start})`).toBe(expected);
            expect(w.highest).toBe(m.highest);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names the refusal: duplicate inside the window, stale below it', () => {
    const w = new CounterWindow(64);
    for (const c of [1, 2, 100]) expect(w.admit(c)).toBe('ok');
    expect(w.check(100)).toBe('duplicate');
    expect(w.check(36)).toBe('stale'); // 100 - 64
    expect(w.check(37)).toBe('ok');
    expect(w.check(0)).toBe('stale');
    expect(w.check(1.5)).toBe('stale');
    expect(w.check(Number.MAX_SAFE_INTEGER + 1)).toBe('stale');
    // check does not change the window.
    expect(w.check(37)).toBe('ok');
    expect(w.highest).toBe(100);
  });

  it('a restored window refuses everything up to its start and accepts what follows', () => {
    const w = new CounterWindow(64, 127);
    expect(w.check(127)).toBe('duplicate');
    expect(w.check(64)).toBe('duplicate');
    expect(w.check(63)).toBe('stale');
    expect(w.admit(128)).toBe('ok');
  });
});

describe('NonceWindow', () => {
  const T = 1_767_225_600_000;
  const nonce = (i: number): string => `nonce-${String(i).padStart(20, '0')}`;

  it('refuses a timestamp outside ±maxSkew and a nonce seen within the window', () => {
    const w = new NonceWindow({ maxSkewMs: 30_000, cap: 100, horizon: T - 60_000 });
    expect(w.check(nonce(1), T - 30_001, T)).toBe('skew');
    expect(w.check(nonce(1), T + 30_001, T)).toBe('skew');
    expect(w.check(nonce(1), T - 30_000, T)).toBe('ok');
    w.accept(nonce(1), T, T);
    expect(w.check(nonce(1), T, T + 1)).toBe('duplicate');
    expect(w.check(nonce(1), T + 5, T + 1)).toBe('duplicate');
    expect(w.check(nonce(2), T, T + 1)).toBe('ok');
  });

  it('is bounded: past the cap the oldest goes and anything at or before it is refused', () => {
    const w = new NonceWindow({ maxSkewMs: 30_000, cap: 16, horizon: 0 });
    for (let i = 0; i < 20; i++) w.accept(nonce(i), T + i, T + i);
    expect(w.size).toBe(16);
    // Nonces 0..3 (ts T..T+3) were evicted: the horizon refuses them even though their nonce is unknown now.
    expect(w.horizon).toBe(T + 3);
    expect(w.check(nonce(0), T, T + 20)).toBe('stale');
    expect(w.check(nonce(3), T + 3, T + 20)).toBe('stale');
    expect(w.check(nonce(4), T + 4, T + 20)).toBe('duplicate');
    expect(w.check(nonce(99), T + 4, T + 20)).toBe('ok');
  });

  it('drops nonces older than the skew; their replay fails the skew check instead', () => {
    const w = new NonceWindow({ maxSkewMs: 1000, cap: 100, horizon: 0 });
    w.accept(nonce(1), T, T);
    w.accept(nonce(2), T + 2000, T + 2000);
    expect(w.size).toBe(1);
    expect(w.check(nonce(1), T, T + 2000)).toBe('skew');
  });

  it('refuses what was stamped before the horizon (the gateway start)', () => {
    const w = new NonceWindow({ maxSkewMs: 30_000, cap: 100, horizon: T });
    expect(w.check(nonce(1), T - 1, T + 1)).toBe('stale');
    expect(w.check(nonce(1), T + 1, T + 1)).toBe('ok');
  });
});
