/**
 * Compiling policies, in two stages.
 *
 * 1. prepare (once per configuration, shared by every principal): action wildcards expanded,
 *    CIDR lists parsed, decision objects built, and matchers built for every resource that
 *    has no variable.
 * 2. compile (once per principal): posture conditions decided, variables substituted and
 *    their matchers built, and everything that applies indexed per action, and for MQTT
 *    actions by the first topic level, so a request only meets the rules that could match it.
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
import type { Effect, PolicyConditions, PolicyDocument } from './document.ts';
import { compileGlob } from './glob.ts';
import { compileCoverMatcher, compileOverlapMatcher, compileTopicMatcher } from './mqtt-filters.ts';
import type { Decision } from './types.ts';
import { hasVariables, parseTemplate, substituteParsed, type ParsedTemplate } from './variables.ts';

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

// ---- stage 1: prepare ------------------------------------------------------------------------

interface PreparedResource {
  readonly template: ParsedTemplate;
  /** Matchers per kind, built once, for a resource without variables; null when it has some. */
  readonly shared: ReadonlyMap<ResourceKind, RuleMatcher> | null;
}

interface PreparedStatement {
  readonly effect: Effect;
  readonly decision: Decision;
  readonly conditions: PolicyConditions | undefined;
  readonly sources: CidrSet | null;
  /** The statement's actions grouped by how their resources are read. */
  readonly actionsByKind: ReadonlyMap<ResourceKind, readonly Action[]>;
  readonly resources: readonly PreparedResource[];
}

export interface PreparedPolicy {
  readonly name: string;
  readonly statements: readonly PreparedStatement[];
}

/** A matcher plus the literal first MQTT level it requires (null: no index, always tried). */
interface RuleMatcher {
  readonly matches: ResourceMatcher;
  readonly first: string | null;
}

const MATCH_ALL: RuleMatcher = { matches: () => true, first: null };

function firstLiteralLevel(kind: ResourceKind, pattern: string): string | null {
  if (kind !== 'topic' && kind !== 'filter') return null;
  const slash = pattern.indexOf('/');
  const first = slash < 0 ? pattern : pattern.slice(0, slash);
  return first === '+' || first === '#' ? null : first;
}

function matcherFor(kind: ResourceKind, effect: Effect, pattern: string): RuleMatcher {
  const first = firstLiteralLevel(kind, pattern);
  switch (kind) {
    case 'topic':
      return { matches: compileTopicMatcher(pattern, topicMatches), first };
    case 'filter':
      // An allow must cover the whole subscription; a deny refuses any subscription that could
      // deliver a topic it names (wildcards in deny are wildcards here, unlike AWS IoT).
      return { matches: effect === 'allow' ? compileCoverMatcher(pattern, filterCovers) : compileOverlapMatcher(pattern), first };
    case 'domain':
      return { matches: compileGlob(pattern, { domain: true }), first };
    case 'glob':
      return { matches: compileGlob(pattern), first };
  }
}

/** The widened pattern for a deny whose variable could not be resolved; null means everything. */
function widenedDenyPattern(kind: ResourceKind, resolvedPrefix: string): string | null {
  if (kind === 'topic' || kind === 'filter') {
    const cut = resolvedPrefix.lastIndexOf('/');
    // A variable in the first level: '#' would still spare '$' topics, so deny everything instead.
    return cut < 0 ? null : `${resolvedPrefix.slice(0, cut + 1)}#`;
  }
  return resolvedPrefix === '' ? null : `${resolvedPrefix}**`;
}

/** Stage 1. The document must have passed parsePolicyDocument. */
export function preparePolicy(doc: PolicyDocument): PreparedPolicy {
  const statements = doc.statements.map((s, index): PreparedStatement => {
    const actionsByKind = new Map<ResourceKind, Action[]>();
    const seen = new Set<Action>();
    for (const pattern of s.actions) {
      for (const a of expandActionPattern(pattern) ?? []) {
        if (seen.has(a)) continue;
        seen.add(a);
        const kind = resourceKind(a);
        const list = actionsByKind.get(kind) ?? [];
        list.push(a);
        actionsByKind.set(kind, list);
      }
    }
    const resources = s.resources.map((template): PreparedResource => {
      if (hasVariables(template)) return { template: parseTemplate(template), shared: null };
      const shared = new Map<ResourceKind, RuleMatcher>();
      for (const kind of actionsByKind.keys()) shared.set(kind, matcherFor(kind, s.effect, template));
      return { template: parseTemplate(template), shared };
    });
    return {
      effect: s.effect,
      decision: Object.freeze({ allowed: s.effect === 'allow', rule: `${doc.name}#${s.sid ?? String(index)}` }),
      conditions: s.conditions,
      sources: s.conditions?.sourceCidr ? CidrSet.parse(s.conditions.sourceCidr) : null,
      actionsByKind,
      resources,
    };
  });
  return { name: doc.name, statements };
}

// ---- stage 2: compile for a principal ----------------------------------------------------------

export interface RuleEntry {
  readonly decision: Decision;
  readonly matches: ResourceMatcher;
  /** Null when the statement has no sourceCidr condition. */
  readonly sources: CidrSet | null;
}

/** Rules of one effect for one action, indexed by the literal first level they require. */
export interface RuleIndex {
  readonly byFirst: ReadonlyMap<string, readonly RuleEntry[]>;
  /** Rules with no literal first level (wildcard first level, globs): always tried. */
  readonly rest: readonly RuleEntry[];
  /** Every rule, for a request whose own first level is a wildcard. */
  readonly all: readonly RuleEntry[];
}

export interface ActionRules {
  readonly kind: ResourceKind;
  readonly denies: RuleIndex;
  readonly allows: RuleIndex;
  /** Whether any entry depends on the source address (then it is part of the cache key). */
  readonly sourceSensitive: boolean;
}

export interface CompiledRules {
  readonly byAction: ReadonlyMap<Action, ActionRules>;
  readonly quarantined: boolean;
  /** Epoch ms at which a time-dependent condition flips, or Infinity. */
  readonly validUntil: number;
}

class IndexBuilder {
  readonly byFirst = new Map<string, RuleEntry[]>();
  readonly rest: RuleEntry[] = [];
  readonly all: RuleEntry[] = [];

  add(entry: RuleEntry, first: string | null): void {
    this.all.push(entry);
    if (first === null) {
      this.rest.push(entry);
      return;
    }
    const list = this.byFirst.get(first);
    if (list) list.push(entry);
    else this.byFirst.set(first, [entry]);
  }
}

interface ActionBuilder {
  kind: ResourceKind;
  denies: IndexBuilder;
  allows: IndexBuilder;
  sourceSensitive: boolean;
}

/** Names of the policies that apply to a principal, in evaluation order, builtins first. */
export function attachedPolicyNames(principal: Principal, attachments: AttachmentIndex): string[] {
  const names = [SEGMENT_DEFAULT_POLICY];
  if (isQuarantined(principal)) names.push(QUARANTINE_POLICY);
  for (const n of attachments.segment.get(principal.segment) ?? []) names.push(n);
  for (const n of attachments.device.get(principal.id) ?? []) names.push(n);
  return [...new Set(names)];
}

type Substituted = { value: string } | { prefix: string };

/** Each resource of a statement for this principal; null when an allow must not apply. */
function substituteAll(s: PreparedStatement, principal: Principal): Substituted[] | null {
  const out: Substituted[] = [];
  for (const r of s.resources) {
    if (r.shared !== null) {
      out.push({ value: r.template.template });
      continue;
    }
    const sub = substituteParsed(r.template, principal);
    if (sub.ok) out.push({ value: sub.value });
    else if (s.effect === 'allow') return null;
    else out.push({ prefix: sub.prefix });
  }
  return out;
}

function resourceMatchers(s: PreparedStatement, kind: ResourceKind, substituted: readonly Substituted[]): RuleMatcher[] {
  return substituted.map((sub, i) => {
    const shared = s.resources[i]?.shared?.get(kind);
    if (shared) return shared;
    if ('value' in sub) return matcherFor(kind, s.effect, sub.value);
    const widened = widenedDenyPattern(kind, sub.prefix);
    return widened === null ? MATCH_ALL : matcherFor(kind, s.effect, widened);
  });
}

export function compileRules(
  principal: Principal,
  policies: ReadonlyMap<string, PreparedPolicy>,
  attachments: AttachmentIndex,
  now: number,
): CompiledRules {
  const quarantined = isQuarantined(principal);
  const builders = new Map<Action, ActionBuilder>();
  let validUntil = Infinity;
  for (const name of attachedPolicyNames(principal, attachments)) {
    const policy = policies.get(name);
    if (!policy) continue;
    for (const s of policy.statements) {
      // Quarantine: nothing but the quarantine policy may grant; every deny still counts.
      if (quarantined && s.effect === 'allow' && name !== QUARANTINE_POLICY) continue;
      const posture = evaluatePosture(s.conditions, principal, now);
      if (posture.changesAt < validUntil) validUntil = posture.changesAt;
      const applies = s.effect === 'allow' ? posture.result === 'true' : posture.result !== 'false';
      if (!applies) continue;
      const substituted = substituteAll(s, principal);
      if (substituted === null) continue;
      for (const [kind, actions] of s.actionsByKind) {
        const matchers = resourceMatchers(s, kind, substituted);
        for (const action of actions) {
          let b = builders.get(action);
          if (!b) {
            b = { kind, denies: new IndexBuilder(), allows: new IndexBuilder(), sourceSensitive: false };
            builders.set(action, b);
          }
          if (s.sources !== null) b.sourceSensitive = true;
          const target = s.effect === 'deny' ? b.denies : b.allows;
          for (const m of matchers) target.add({ decision: s.decision, matches: m.matches, sources: s.sources }, m.first);
        }
      }
    }
  }
  const byAction = new Map<Action, ActionRules>();
  for (const [action, b] of builders) byAction.set(action, b);
  return { byAction, quarantined, validUntil };
}
