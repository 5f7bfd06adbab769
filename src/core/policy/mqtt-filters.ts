/**
 * What policy needs about MQTT filters beyond topics.ts: validating filters in policy documents
 * (before variables are substituted), and whether two filters can match a common topic, which
 * is how a deny statement refuses a subscription.
 */

/** Why a filter from a policy document is malformed (MQTT 5.0 §4.7.1), or null. */
export function mqttFilterProblem(filter: string): string | null {
  if (filter.length === 0) return 'empty topic filter';
  if (filter.includes('\u0000')) return 'NUL in topic filter';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    // [MQTT-4.7.1-1] '#' alone in its level and last; [MQTT-4.7.1-2] '+' alone in its level.
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be the whole last level of a topic filter';
    if (level.includes('+') && level !== '+') return '"+" must be a whole level of a topic filter';
  }
  return null;
}

/** A filter whose every level is a wildcard (`#`, `+/#`, `+/+`...): it reaches every device's topics. */
export function isAllWildcardFilter(filter: string): boolean {
  return filter.split('/').every((l) => l === '+' || l === '#');
}

export function hasMqttWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

function dollarBlocked(wild: string | undefined, other: string | undefined, level: number): boolean {
  // [MQTT-4.7.2-1] a wildcard first level does not reach topics starting with '$'.
  return level === 0 && wild !== undefined && other !== undefined && other !== '+' && other !== '#' && other.startsWith('$');
}

/**
 * Whether some topic name is matched by both filters. Used for deny on mqtt:subscribe: a
 * subscription that could deliver anything a deny names is refused as a whole.
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; ; i++) {
    const xEnd = i >= x.length;
    const yEnd = i >= y.length;
    if (xEnd && yEnd) return true;
    const xl = x[i];
    const yl = y[i];
    if (xl === '#' || yl === '#') {
      // '#' also matches the parent level, so `a/#` and `a` share the topic `a`.
      return xl === '#' ? !dollarBlocked(xl, yl, i) : !dollarBlocked(yl, xl, i);
    }
    if (xEnd || yEnd) return false;
    if (xl === '+' || yl === '+') {
      if (xl === '+' ? dollarBlocked(xl, yl, i) : dollarBlocked(yl, xl, i)) return false;
      continue;
    }
    if (xl !== yl) return false;
  }
}

/** The levels before the first wildcard level, joined: `a/b` for `a/b/+/#`, `` for `+/x`. */
function literalPrefix(filter: string): string {
  // Wildcards fill whole levels in a valid filter, so the first '+' or '#' starts a level.
  const plus = filter.indexOf('+');
  const hash = filter.indexOf('#');
  const at = plus < 0 ? hash : hash < 0 ? plus : Math.min(plus, hash);
  if (at < 0) return filter;
  return at === 0 ? '' : filter.slice(0, at - 1);
}

/**
 * A string test every topic (or filter) under `prefix` passes: it starts with the prefix and
 * the prefix ends at a level boundary. Rejects most resources before the level-by-level match.
 */
function underPrefix(prefix: string): (s: string) => boolean {
  const n = prefix.length;
  return (s) => s.startsWith(prefix) && (s.length === n || s.charCodeAt(n) === 47);
}

/**
 * topicMatches(filter, topic) from topics.ts, precompiled: a filter without wildcards is an
 * equality test, and a filter with literal leading levels checks them as a string prefix first.
 */
export function compileTopicMatcher(filter: string, full: (filter: string, topic: string) => boolean): (topic: string) => boolean {
  if (!hasMqttWildcard(filter)) return (t) => t === filter;
  const prefix = literalPrefix(filter);
  if (prefix === '') return (t) => full(filter, t);
  const under = underPrefix(prefix);
  return (t) => under(t) && full(filter, t);
}

/**
 * filterCovers(granted, requested) from topics.ts, precompiled the same way: a requested
 * filter can only be covered if it repeats the granted filter's literal leading levels.
 */
export function compileCoverMatcher(granted: string, full: (granted: string, requested: string) => boolean): (requested: string) => boolean {
  if (!hasMqttWildcard(granted)) return (r) => r === granted;
  return compileTopicMatcher(granted, full);
}

/** filtersOverlap(pattern, requested), with a first-level test that skips the split for most requests. */
export function compileOverlapMatcher(pattern: string): (requested: string) => boolean {
  const first = pattern.split('/')[0] ?? '';
  if (first === '+' || first === '#') return (r) => filtersOverlap(pattern, r);
  const under = underPrefix(first);
  return (r) => (under(r) || r.charCodeAt(0) === 43 || r.charCodeAt(0) === 35) && filtersOverlap(pattern, r);
}
