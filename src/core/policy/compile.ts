/**
 * Compiles the policies that apply to one principal into per-action rule lists: variables
 * substituted, posture conditions decided, action wildcards expanded, resources turned into
 * matchers. What is left for request time is matching the resource (and the source address
 * when a statement has `sourceCidr`).
 *
 * Unresolvable variables (missing, empty, unknown, or a value with `+ # / *`) never widen a
 * grant: an allow statement with one does not apply at all. A deny resource with one is
 * widened instead of dropped, from the level (MQTT) or character (globs) where the variable
 * stood: deny `secrets/${device.attr.tenant}/#` without a tenant denies `secrets/#`.
 */
import type { Principal } from '../identity/principal.ts';
import { filterCovers, topicMatches } from '../messaging/topics.ts';
import { expandActionPattern, resourceKind, type Action, type ResourceKind } from './actions.ts';
import { isQuarantined, QUARANTINE_POLICY, SEGMENT_DEFAULT_POLICY } from './builtin.ts';
import { CidrSet } from './cidr.ts';
import { evaluatePosture } from './conditions.ts';
import type { PolicyDocument, PolicyStatement } from './document.ts';
import { compileGlob } from './glob.ts';
import { filtersOverlap } from './mqtt-filters.ts';
import type { Decision } from './types.ts';
import { substitute } from './variables.ts';

export type ResourceMatcher = (resource: string) => boolean;

/**
 * Attachments as Maps: segment names and device ids come from devices (an anonymous client's
 * id is its client id), and a plain-object lookup of `constructor` or `__proto__` would find
 * Object.prototype's members instead of nothing.
 */
export interface AttachmentIndex {
  readonly segment: ReadonlyMap<string, readonly string[]>;
  readonly device: ReadonlyMap<string, readonly string[]>;
}

export interface RuleEntry {
  readonly decision: Decision;
  readonly matches: ResourceMatcher;
  /** Null when the statement has no sourceCidr condition. */
  readonly sources: CidrSet | null;
}

export interface ActionRules {
  readonly denies: readonly RuleEntry[];
  readonly allows: readonly RuleEntry[];
  /** Whether any entry depends on the source address (then it is part of the cache key). */
  readonly sourceSensitive: boolean;
}

export interface CompiledRules {
  readonly byAction: ReadonlyMap<Action, ActionRules>;
  readonly quarantined: boolean;
  /** Epoch ms at which a time-dependent condition flips, or Infinity. */
  readonly validUntil: number;
}

const matchAll: ResourceMatcher = () => true;

function matcherFor(kind: ResourceKind, effect: 'allow' | 'deny', pattern: string): ResourceMatcher {
  switch (kind) {
    case 'topic':
      return (topic) => topicMatches(pattern, topic);
    case 'filter':
      // An allow must cover the whole subscription; a deny refuses any subscription that could
      // deliver a topic it names (wildcards in deny are wildcards here, unlike AWS IoT).
      return effect === 'allow' ? (f) => filterCovers(pattern, f) : (f) => filtersOverlap(pattern, f);
    case 'domain':
      return compileGlob(pattern, { domain: true });
    case 'glob':
      return compileGlob(pattern);
  }
}

/** The widened pattern for a deny whose variable at `offset` could not be resolved; null means everything. */
function widenedDenyPattern(kind: ResourceKind, resolvedPrefix: string): string | null {
  if (kind === 'topic' || kind === 'filter') {
    const cut = resolvedPrefix.lastIndexOf('/');
    // A variable in the first level: '#' would still spare '$' topics, so deny everything instead.
    return cut < 0 ? null : `${resolvedPrefix.slice(0, cut + 1)}#`;
  }
  return resolvedPrefix === '' ? null : `${resolvedPrefix}**`;
}

interface MutableRules {
  denies: RuleEntry[];
  allows: RuleEntry[];
}

function ruleName(policy: string, statement: PolicyStatement, index: number): string {
  return `${policy}#${statement.sid ?? String(index)}`;
}

function addStatement(
  rules: Map<Action, MutableRules>,
  policy: string,
  statement: PolicyStatement,
  index: number,
  principal: Principal,
): void {
  const effect = statement.effect;
  const decision: Decision = Object.freeze({ allowed: effect === 'allow', rule: ruleName(policy, statement, index) });
  const sources = statement.conditions?.sourceCidr ? CidrSet.parse(statement.conditions.sourceCidr) : null;

  // Substitute once per resource; the same text serves every action of the statement.
  const substituted: Array<{ value: string } | { prefix: string }> = [];
  for (const template of statement.resources) {
    const s = substitute(template, principal);
    if (s.ok) substituted.push({ value: s.value });
    else if (effect === 'allow') return;
    else substituted.push({ prefix: s.prefix });
  }
  if (substituted.length === 0) return;

  const actions = new Set<Action>();
  for (const pattern of statement.actions) for (const a of expandActionPattern(pattern) ?? []) actions.add(a);

  for (const action of actions) {
    const kind = resourceKind(action);
    const matchers = substituted.map((s) => {
      if ('value' in s) return matcherFor(kind, effect, s.value);
      const widened = widenedDenyPattern(kind, s.prefix);
      return widened === null ? matchAll : matcherFor(kind, effect, widened);
    });
    const matches: ResourceMatcher = matchers.length === 1 ? (matchers[0] ?? matchAll) : (r) => matchers.some((m) => m(r));
    let entry = rules.get(action);
    if (!entry) {
      entry = { denies: [], allows: [] };
      rules.set(action, entry);
    }
    (effect === 'deny' ? entry.denies : entry.allows).push({ decision, matches, sources });
  }
}

/** Names of the policies that apply to a principal, in evaluation order, builtins first. */
export function attachedPolicyNames(principal: Principal, attachments: AttachmentIndex): string[] {
  const names = [SEGMENT_DEFAULT_POLICY];
  if (isQuarantined(principal)) names.push(QUARANTINE_POLICY);
  for (const n of attachments.segment.get(principal.segment) ?? []) names.push(n);
  for (const n of attachments.device.get(principal.id) ?? []) names.push(n);
  return [...new Set(names)];
}

export function compileRules(
  principal: Principal,
  policies: ReadonlyMap<string, PolicyDocument>,
  attachments: AttachmentIndex,
  now: number,
): CompiledRules {
  const quarantined = isQuarantined(principal);
  const rules = new Map<Action, MutableRules>();
  let validUntil = Infinity;
  for (const name of attachedPolicyNames(principal, attachments)) {
    const doc = policies.get(name);
    if (!doc) continue;
    doc.statements.forEach((statement, index) => {
      // Quarantine: nothing but the quarantine policy may grant; every deny still counts.
      if (quarantined && statement.effect === 'allow' && name !== QUARANTINE_POLICY) return;
      const posture = evaluatePosture(statement.conditions, principal, now);
      const applies = statement.effect === 'allow' ? posture.result === 'true' : posture.result !== 'false';
      if (posture.changesAt < validUntil) validUntil = posture.changesAt;
      if (applies) addStatement(rules, name, statement, index, principal);
    });
  }
  const byAction = new Map<Action, ActionRules>();
  for (const [action, r] of rules) {
    const sourceSensitive = r.denies.some((e) => e.sources !== null) || r.allows.some((e) => e.sources !== null);
    byAction.set(action, { denies: r.denies, allows: r.allows, sourceSensitive });
  }
  return { byAction, quarantined, validUntil };
}
