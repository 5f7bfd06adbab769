/**
 * Topic names and filters (MQTT 5.0 §4.7, 3.1.1 §4.7). Validation is shared by every protocol
 * that maps onto topics (MQTT, HTTP and CoAP publish), so it lives in core.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';

export interface TopicLimits {
  maxTopicLength: number;
  maxTopicLevels: number;
}

function invalid(code: typeof ErrorCodes.TOPIC_INVALID | typeof ErrorCodes.FILTER_INVALID, why: string): never {
  throw new PalisadeError(code, why);
}

function checkCommon(value: string, limits: TopicLimits, code: typeof ErrorCodes.TOPIC_INVALID | typeof ErrorCodes.FILTER_INVALID): void {
  // [MQTT-4.7.3-1] at least one character; [MQTT-4.7.3-3] at most 65535 bytes.
  if (value.length === 0) invalid(code, 'empty');
  if (Buffer.byteLength(value) > limits.maxTopicLength) invalid(code, 'too long');
  // [MQTT-4.7.3-2] no U+0000. U+FFFD marks bytes the decoder could not read as UTF-8 [MQTT-1.5.4-1].
  if (value.includes('\u0000') || value.includes('\uFFFD')) invalid(code, 'invalid character');
}

function levelCount(value: string): number {
  let n = 1;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 47) n++;
  return n;
}

/** A topic name as used in PUBLISH: no wildcards [MQTT-3.3.2-2]. */
export function validateTopicName(topic: string, limits: TopicLimits): void {
  checkCommon(topic, limits, ErrorCodes.TOPIC_INVALID);
  if (topic.includes('+') || topic.includes('#')) invalid(ErrorCodes.TOPIC_INVALID, 'wildcard in topic name');
  if (levelCount(topic) > limits.maxTopicLevels) invalid(ErrorCodes.TOPIC_INVALID, 'too many levels');
}

export interface ParsedFilter {
  /** The filter without any `$share/<group>/` prefix. */
  filter: string;
  shareGroup: string | null;
}

/** A filter as used in SUBSCRIBE and UNSUBSCRIBE, including shared subscriptions (§4.8.2). */
export function parseTopicFilter(raw: string, limits: TopicLimits): ParsedFilter {
  checkCommon(raw, limits, ErrorCodes.FILTER_INVALID);
  let filter = raw;
  let shareGroup: string | null = null;
  if (raw.startsWith('$share/')) {
    const rest = raw.slice('$share/'.length);
    const slash = rest.indexOf('/');
    // [MQTT-4.8.2-1] a ShareName of at least one character, no wildcards; [MQTT-4.8.2-2] then a filter.
    if (slash <= 0) invalid(ErrorCodes.FILTER_INVALID, 'shared subscription without share name or filter');
    shareGroup = rest.slice(0, slash);
    if (shareGroup.includes('+') || shareGroup.includes('#')) invalid(ErrorCodes.FILTER_INVALID, 'wildcard in share name');
    filter = rest.slice(slash + 1);
    if (filter.length === 0) invalid(ErrorCodes.FILTER_INVALID, 'empty shared filter');
  }
  const levels = filter.split('/');
  if (levels.length > limits.maxTopicLevels) invalid(ErrorCodes.FILTER_INVALID, 'too many levels');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    // [MQTT-4.7.1-1] '#' alone in its level and last; [MQTT-4.7.1-2] '+' alone in its level.
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) invalid(ErrorCodes.FILTER_INVALID, 'misplaced #');
    if (level.includes('+') && level !== '+') invalid(ErrorCodes.FILTER_INVALID, 'misplaced +');
  }
  return { filter, shareGroup };
}

/** Whether a topic name matches a filter, with the `$` rule of [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic matched by `requested` is also matched by `granted`: used to decide if a
 * subscription is inside what policy allows. Conservative: when unsure, it says no.
 */
export function filterCovers(granted: string, requested: string): boolean {
  const g = granted.split('/');
  const r = requested.split('/');
  for (let i = 0; i < g.length; i++) {
    const gl = g[i];
    if (gl === '#') {
      // A '$' first level is not reachable through a wildcard first level [MQTT-4.7.2-1].
      return !(i === 0 && (r[0] ?? '').startsWith('$'));
    }
    if (i >= r.length) return false;
    const rl = r[i];
    if (rl === '#') return false;
    if (gl === '+') {
      if (i === 0 && (rl ?? '').startsWith('$')) return false;
      continue;
    }
    if (gl !== rl) return false;
  }
  return g.length === r.length;
}
