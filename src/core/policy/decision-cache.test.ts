import { describe, expect, it } from 'vitest';
import { DecisionCache } from './decision-cache.ts';

describe('DecisionCache', () => {
  it('holds at most twice its limit', () => {
    const c = new DecisionCache<number>(4);
    for (let i = 0; i < 100; i++) {
      c.set(`k${i}`, i);
      expect(c.size).toBeLessThanOrEqual(8);
    }
    expect(c.get('k0')).toBeUndefined();
    expect(c.get('k99')).toBe(99);
  });

  it('keeps an entry that keeps being read, and drops one that is not', () => {
    const c = new DecisionCache<number>(4);
    c.set('hot', 1);
    c.set('cold', 2);
    for (let i = 0; i < 100; i++) {
      c.set(`k${i}`, i);
      expect(c.get('hot')).toBe(1);
    }
    expect(c.get('cold')).toBeUndefined();
  });

  it('clears', () => {
    const c = new DecisionCache<number>(4);
    c.set('a', 1);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('a')).toBeUndefined();
  });
});
