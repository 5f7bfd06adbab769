/**
 * The zero-trust policy engine (issue 3 point 6). Deny overrides allow; nothing matched is
 * `default-deny`. Policies attach to segments and devices; the built-ins of builtin.ts are
 * always there.
 *
 * `compile(principal)` does the work once per principal. The compiled policy keeps a bounded
 * cache of decisions per action, keyed by resource (and source address when a statement of
 * that action has `sourceCidr`), so the hot path is one Map lookup. `update()` swaps the
 * configuration and bumps `version`; every compiled policy notices on its next call and
 * re-compiles itself, and `onChange` listeners hear about it so live sessions can re-check
 * what they already hold (subscriptions).
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import { resourceKind, type Action } from './actions.ts';
import { BUILTIN_POLICIES, isBuiltinPolicy, QUARANTINE_DENY_RULE } from './builtin.ts';
import { parseSourceAddress, type Address } from './cidr.ts';
import { compileRules, preparePolicy, type ActionRules, type AttachmentIndex, type CompiledRules, type PreparedPolicy, type RuleEntry, type RuleIndex } from './compile.ts';
import { parsePolicyDocument, type PolicyConfig, type PolicyDocument } from './document.ts';
import { DecisionCache } from './decision-cache.ts';
import { mqttFilterProblem } from './mqtt-filters.ts';
import type { CompiledPolicy, Decision, DynamicPolicyEngine, PolicyChangeListener, RequestContext } from './types.ts';

export const DEFAULT_DENY: Decision = Object.freeze({ allowed: false, rule: 'default-deny' });
const QUARANTINE_DENY: Decision = Object.freeze({ allowed: false, rule: QUARANTINE_DENY_RULE });
/** A resource no valid request carries (a wildcard in a topic name, `..` in a path). */
export const INVALID_RESOURCE: Decision = Object.freeze({ allowed: false, rule: 'invalid-resource' });

export const DEFAULT_DECISION_CACHE_SIZE = 1024;

export interface PolicyEngineOptions {
  /** Decisions cached per action per compiled principal (up to twice this; see DecisionCache). */
  cacheSize?: number;
  /** Clock for `certDaysLeftAtLeast`; tests pass a fake one. */
  now?: () => number;
}

export const EMPTY_POLICY_CONFIG: PolicyConfig = Object.freeze({ policies: [], attachments: { segment: {}, device: {} } });

interface EngineState {
  readonly policies: ReadonlyMap<string, PolicyDocument>;
  readonly prepared: ReadonlyMap<string, PreparedPolicy>;
  readonly attachments: AttachmentIndex;
}

/** Shared by reference between an engine and the policies it compiled; only the engine writes it. */
interface EngineCore {
  version: number;
  state: EngineState;
  readonly now: () => number;
  readonly cacheSize: number;
}

function toRecord(m: ReadonlyMap<string, readonly string[]>): Record<string, string[]> {
  // fromEntries defines own properties, so a target named `__proto__` stays a plain key.
  return Object.fromEntries([...m].map(([k, v]) => [k, [...v]]));
}

/**
 * Checks a whole configuration: every document valid, names unique and not built-in, every
 * attachment naming a policy that exists. Returns the state the engine runs on.
 */
function buildState(config: PolicyConfig): EngineState {
  const policies = new Map<string, PolicyDocument>();
  for (const b of BUILTIN_POLICIES) policies.set(b.name, b);
  for (const raw of config.policies) {
    const doc = parsePolicyDocument(raw);
    if (isBuiltinPolicy(doc.name)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `policy ${doc.name}: the name is reserved for a built-in policy`, { detail: { name: doc.name } });
    if (policies.has(doc.name)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `policy ${doc.name}: defined twice`, { detail: { name: doc.name } });
    policies.set(doc.name, doc);
  }
  const index = { segment: new Map<string, string[]>(), device: new Map<string, string[]>() };
  for (const kind of ['segment', 'device'] as const) {
    const map: unknown = config.attachments[kind];
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `attachments.${kind}: must be an object of ${kind} -> policy names`);
    }
    for (const [target, names] of Object.entries(map as Record<string, unknown>)) {
      const at = `attachments.${kind}.${target}`;
      if (target === '') throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `attachments.${kind}: empty ${kind} name`);
      if (!Array.isArray(names)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${at}: must be an array of policy names`);
      for (const name of names) {
        if (typeof name !== 'string' || !policies.has(name)) {
          throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${at}: no policy named ${JSON.stringify(name)}`, { detail: { kind, target, name } });
        }
      }
      index[kind].set(target, [...new Set(names as string[])]);
    }
  }
  const prepared = new Map<string, PreparedPolicy>();
  for (const [name, doc] of policies) prepared.set(name, preparePolicy(doc));
  return { policies, prepared, attachments: index };
}

/** Throws INVALID_ARGUMENT (one line naming the problem) when the configuration would be refused by `update`. */
export function validatePolicyConfig(config: PolicyConfig): void {
  buildState(config);
}

function invalidResource(action: Action, resource: string): boolean {
  switch (resourceKind(action)) {
    case 'topic':
      return resource.length === 0 || resource.includes('+') || resource.includes('#');
    case 'filter':
      return mqttFilterProblem(resource) !== null;
    case 'domain':
      return resource.length === 0;
    case 'glob':
      // A client id is opaque; anywhere else `.` and `..` segments would let `a/*` reach `a/../b`.
      return action !== 'mqtt:connect' && /(^|\/)\.\.?(\/|$)/.test(resource);
  }
}

export class CompiledPrincipalPolicy implements CompiledPolicy {
  readonly #core: EngineCore;
  readonly #principal: Principal;
  #version: number;
  #rules: CompiledRules;
  #caches = new Map<Action, DecisionCache<Decision>>();

  /** Built by ZeroTrustPolicyEngine.compile. */
  constructor(core: EngineCore, principal: Principal) {
    this.#core = core;
    this.#principal = principal;
    this.#version = core.version;
    this.#rules = compileRules(principal, core.state.prepared, core.state.attachments, core.now());
  }

  get principal(): Principal {
    return this.#principal;
  }

  /** The engine version this policy was last compiled against. */
  get version(): number {
    return this.#version;
  }

  /** Whether the principal is held to the quarantine policy. */
  get quarantined(): boolean {
    return this.#rules.quarantined;
  }

  #recompile(): void {
    const core = this.#core;
    this.#version = core.version;
    this.#rules = compileRules(this.#principal, core.state.prepared, core.state.attachments, core.now());
    this.#caches = new Map();
  }

  authorize(action: Action, resource: string, context?: RequestContext): Decision {
    if (this.#version !== this.#core.version || (this.#rules.validUntil !== Infinity && this.#core.now() >= this.#rules.validUntil)) {
      this.#recompile();
    }
    const rules = this.#rules;
    const forAction = rules.byAction.get(action);
    if (forAction === undefined) return rules.quarantined ? QUARANTINE_DENY : DEFAULT_DENY;
    const source = forAction.sourceSensitive ? (context?.source ?? '') : '';
    const key = forAction.sourceSensitive ? `${resource}\u0000${source}` : resource;
    let cache = this.#caches.get(action);
    if (cache === undefined) {
      cache = new DecisionCache(this.#core.cacheSize);
      this.#caches.set(action, cache);
    }
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const decision = this.#decide(forAction, action, resource, source);
    cache.set(key, decision);
    return decision;
  }

  /** Decisions currently cached over all actions (an upper bound, see DecisionCache). */
  get cachedDecisions(): number {
    let n = 0;
    for (const c of this.#caches.values()) n += c.size;
    return n;
  }

  /** The uncached evaluation: any matching deny, else the first matching allow, else default deny. */
  #decide(rules: ActionRules, action: Action, resource: string, source: string): Decision {
    if (invalidResource(action, resource)) return INVALID_RESOURCE;
    const address: Address | null = rules.sourceSensitive && source !== '' ? parseSourceAddress(source) : null;
    let first: string | null = null;
    if (rules.kind === 'topic' || rules.kind === 'filter') {
      const slash = resource.indexOf('/');
      const level = slash < 0 ? resource : resource.slice(0, slash);
      // A subscription with a wildcard first level meets every rule (denies by overlap).
      first = level === '+' || level === '#' ? null : level;
    }
    // Fail closed: a deny whose source range cannot be checked applies; such an allow does not.
    return scan(rules.denies, first, resource, address, true) ?? scan(rules.allows, first, resource, address, false) ?? (this.#rules.quarantined ? QUARANTINE_DENY : DEFAULT_DENY);
  }
}

function scanList(list: readonly RuleEntry[], resource: string, address: Address | null, unknownSourceApplies: boolean): Decision | null {
  for (const e of list) {
    if (!e.matches(resource)) continue;
    if (e.sources === null || (address === null ? unknownSourceApplies : e.sources.contains(address))) return e.decision;
  }
  return null;
}

function scan(index: RuleIndex, first: string | null, resource: string, address: Address | null, unknownSourceApplies: boolean): Decision | null {
  if (first === null) return scanList(index.all, resource, address, unknownSourceApplies);
  const bucket = index.byFirst.get(first);
  return (bucket && scanList(bucket, resource, address, unknownSourceApplies)) ?? scanList(index.rest, resource, address, unknownSourceApplies);
}

export class ZeroTrustPolicyEngine implements DynamicPolicyEngine {
  readonly #core: EngineCore;
  readonly #listeners = new Set<PolicyChangeListener>();

  /** Throws INVALID_ARGUMENT when the configuration is invalid (see validatePolicyConfig). */
  constructor(config: PolicyConfig = EMPTY_POLICY_CONFIG, options: PolicyEngineOptions = {}) {
    const cacheSize = options.cacheSize ?? DEFAULT_DECISION_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'policy cacheSize must be a positive integer');
    this.#core = { version: 1, state: buildState(config), now: options.now ?? Date.now, cacheSize };
  }

  get version(): number {
    return this.#core.version;
  }

  compile(principal: Principal): CompiledPrincipalPolicy {
    return new CompiledPrincipalPolicy(this.#core, principal);
  }

  /**
   * Replaces policies and attachments. Validates first, so an invalid configuration changes
   * nothing. Compiled policies re-compile on their next decision; then listeners are told.
   */
  update(config: PolicyConfig): void {
    this.#core.state = buildState(config);
    this.#bump();
  }

  /**
   * Marks every compiled policy stale without a configuration change, e.g. after device
   * attributes changed (principals must then be rebuilt and compiled again by the caller).
   */
  invalidate(): void {
    this.#bump();
  }

  onChange(listener: PolicyChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The operator's configuration as the engine holds it (built-ins not included). */
  config(): PolicyConfig {
    const { policies, attachments } = this.#core.state;
    return {
      policies: [...policies.values()].filter((p) => !isBuiltinPolicy(p.name)),
      attachments: { segment: toRecord(attachments.segment), device: toRecord(attachments.device) },
    };
  }

  /** A policy by name, built-ins included. */
  policy(name: string): PolicyDocument | undefined {
    return this.#core.state.policies.get(name);
  }

  #bump(): void {
    const previousVersion = this.#core.version;
    this.#core.version++;
    const change = { version: this.#core.version, previousVersion };
    // Every listener hears the change even if one throws; the first error is rethrown after.
    let failure: { error: unknown } | null = null;
    for (const l of [...this.#listeners]) {
      try {
        l(change);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
