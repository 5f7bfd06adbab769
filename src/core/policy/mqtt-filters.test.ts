import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterCovers, topicMatches } from '../messaging/topics.ts';
import { compileCoverMatcher, compileOverlapMatcher, compileTopicMatcher, filtersOverlap, isAllWildcardFilter, mqttFilterProblem } from './mqtt-filters.ts';

const level = fc.constantFrom('a', 'b', '$SYS', '');
const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
const filterArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', '$SYS', '', '+'), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .chain((f) => fc.constantFrom(f, '#', '+/#'));

/** Every topic over the small alphabet up to 4 levels (filters have at most 4 non-# levels): enough to find a common topic if one exists. */
const universe: string[] = [];
const grow = (prefix: string[], depth: number): void => {
  if (prefix.length > 0) universe.push(prefix.join('/'));
  if (depth === 0) return;
  for (const l of ['a', 'b', '$SYS', '', 'zz']) grow([...prefix, l], depth - 1);
};
grow([], 4);

describe('MQTT filter helpers', () => {
  it('validates filters', () => {
    for (const ok of ['a', 'a/+/b', '#', '+/#', 'a/${device.id}/#', '']) expect(ok === '' ? mqttFilterProblem(ok) : mqttFilterProblem(ok), ok).toBe(ok === '' ? 'empty topic filter' : null);
    for (const bad of ['a/#/b', 'a#', 'a/b+', '+a', '#/a']) expect(mqttFilterProblem(bad), bad).not.toBeNull();
  });

  it('spots filters made of wildcards only', () => {
    for (const f of ['#', '+/#', '+', '+/+', '+/+/#']) expect(isAllWildcardFilter(f), f).toBe(true);
    for (const f of ['a/#', '+/a', '$SYS/#']) expect(isAllWildcardFilter(f), f).toBe(false);
  });

  it('filtersOverlap is true exactly when some topic matches both (property)', () => {
    fc.assert(
      fc.property(filterArb, filterArb, (x, y) => {
        const brute = universe.some((t) => topicMatches(x, t) && topicMatches(y, t));
        expect(filtersOverlap(x, y)).toBe(brute);
        expect(filtersOverlap(y, x)).toBe(brute);
      }),
      { numRuns: 2000 },
    );
  });

  it('the precompiled matchers agree with topics.ts (property)', () => {
    fc.assert(
      fc.property(filterArb, topicArb, filterArb, (f, t, r) => {
        expect(compileTopicMatcher(f, topicMatches)(t)).toBe(topicMatches(f, t));
        expect(compileCoverMatcher(f, filterCovers)(r)).toBe(filterCovers(f, r));
        expect(compileOverlapMatcher(f)(r)).toBe(filtersOverlap(f, r));
      }),
      { numRuns: 3000 },
    );
  });

  it('overlap examples', () => {
    expect(filtersOverlap('a/#', 'a')).toBe(true);
    expect(filtersOverlap('a/+', 'a')).toBe(false);
    expect(filtersOverlap('#', '$SYS/x')).toBe(false);
    expect(filtersOverlap('$SYS/#', '$SYS/+')).toBe(true);
    expect(filtersOverlap('+/x', '$SYS/x')).toBe(false);
    expect(filtersOverlap('a/+/c', 'a/b/+')).toBe(true);
    expect(filtersOverlap('a/+/c', 'a/b/d')).toBe(false);
  });
});
