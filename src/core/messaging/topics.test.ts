import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { TopicTrie } from './topic-trie.ts';
import { filterCovers, parseTopicFilter, topicMatches, validateTopicName } from './topics.ts';

const limits = { maxTopicLength: 1024, maxTopicLevels: 32 };

function code(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return isPalisadeError(err) ? err.code : 'other';
  }
}

describe('topic names and filters', () => {
  it('refuses wildcards, empty names, NUL and too many levels in topic names', () => {
    expect(code(() => validateTopicName('a/b', limits))).toBeNull();
    for (const bad of ['', 'a/+', 'a/#', 'a\u0000b', 'x'.repeat(1025), Array(40).fill('a').join('/'), 'a\uFFFDb']) {
      expect(code(() => validateTopicName(bad, limits))).toBe(ErrorCodes.TOPIC_INVALID);
    }
  });

  it('validates wildcard placement in filters [MQTT-4.7.1-1/2]', () => {
    for (const ok of ['#', '+', 'a/+/b', 'a/#', '+/+', '/']) expect(code(() => parseTopicFilter(ok, limits))).toBeNull();
    for (const bad of ['a/#/b', 'a#', 'a/b+', '#/a', '']) expect(code(() => parseTopicFilter(bad, limits))).toBe(ErrorCodes.FILTER_INVALID);
  });

  it('parses shared subscriptions [MQTT-4.8.2-1/2]', () => {
    expect(parseTopicFilter('$share/g1/a/+', limits)).toEqual({ filter: 'a/+', shareGroup: 'g1' });
    for (const bad of ['$share/g1', '$share//a', '$share/g+/a', '$share/g1/']) expect(code(() => parseTopicFilter(bad, limits))).toBe(ErrorCodes.FILTER_INVALID);
  });

  it('matches as the spec examples say (§4.7.1)', () => {
    expect(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1')).toBe(true);
    expect(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon')).toBe(true);
    expect(topicMatches('sport/#', 'sport')).toBe(true);
    expect(topicMatches('sport/+', 'sport')).toBe(false);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
    expect(topicMatches('+/+', '/finance')).toBe(true);
    expect(topicMatches('/+', '/finance')).toBe(true);
    expect(topicMatches('+', '/finance')).toBe(false);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('+/monitor/Clients', '$SYS/monitor/Clients')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/monitor/Clients')).toBe(true);
  });

  it('decides filter coverage conservatively', () => {
    expect(filterCovers('a/#', 'a/b/+')).toBe(true);
    expect(filterCovers('a/+/c', 'a/b/c')).toBe(true);
    expect(filterCovers('a/+/c', 'a/#')).toBe(false);
    expect(filterCovers('a/b', 'a/+')).toBe(false);
    expect(filterCovers('#', '$SYS/#')).toBe(false);
    expect(filterCovers('a/#', 'a')).toBe(true);
  });
});

describe('TopicTrie', () => {
  const level = fc.constantFrom('a', 'b', 'c', '', '$x');
  const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
  const filterLevel = fc.constantFrom('a', 'b', 'c', '', '+', '$x');
  const filter = fc.tuple(fc.array(filterLevel, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'));

  it('matches exactly what topicMatches matches (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(filter, { maxLength: 12 }), topic, (filters, t) => {
        const trie = new TopicTrie<string>();
        for (const f of filters) trie.add(f, f, f);
        const got: string[] = [];
        trie.match(t, (v) => got.push(v));
        expect(got.sort()).toEqual(filters.filter((f) => topicMatches(f, t)).sort());
      }),
      { numRuns: 500 },
    );
  });

  it('prunes branches on removal', () => {
    const trie = new TopicTrie<number>();
    trie.add('a/b/c', 'k', 1);
    trie.add('a/b', 'k', 2);
    expect(trie.size).toBe(2);
    expect(trie.remove('a/b/c', 'k')).toBe(true);
    expect(trie.remove('a/b/c', 'k')).toBe(false);
    const seen: number[] = [];
    trie.match('a/b', (v) => seen.push(v));
    expect(seen).toEqual([2]);
    expect(trie.size).toBe(1);
  });
});
