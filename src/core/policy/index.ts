/** The policy language's public surface (issue 3 point 6); see engine.ts for the semantics. */
export { Actions, ALL_ACTIONS, actionFamily, expandActionPattern, isAction, resourceKind, type Action, type ActionFamily, type ResourceKind } from './actions.ts';
export {
  BUILTIN_POLICIES,
  BUILTIN_POLICY_NAMES,
  isBuiltinPolicy,
  isQuarantined,
  QUARANTINE,
  QUARANTINE_DENY_RULE,
  QUARANTINE_POLICY,
  QUARANTINE_SEGMENT,
  SEGMENT_DEFAULT,
  SEGMENT_DEFAULT_POLICY,
} from './builtin.ts';
export {
  parsePolicyConfig,
  parsePolicyDocument,
  POLICY_VERSION,
  type Effect,
  type PolicyAttachments,
  type PolicyConditions,
  type PolicyConfig,
  type PolicyDocument,
  type PolicyStatement,
} from './document.ts';
export {
  CompiledPrincipalPolicy,
  DEFAULT_DECISION_CACHE_SIZE,
  DEFAULT_DENY,
  EMPTY_POLICY_CONFIG,
  INVALID_RESOURCE,
  validatePolicyConfig,
  ZeroTrustPolicyEngine,
  type PolicyEngineOptions,
} from './engine.ts';
export { formatFinding, lintPolicies, type LintFinding, type LintInput } from './lint.ts';
export { revokedSubscriptions, type Revoked } from './recheck.ts';
export { legacyPolicyName, loadPolicyConfig, mergePolicyConfigs, policiesFromSegmentGrants, type LegacySegmentGrants } from './sources.ts';
export type { CompiledPolicy, Decision, DynamicPolicyEngine, PolicyChange, PolicyChangeListener, PolicyEngine, RequestContext } from './types.ts';
