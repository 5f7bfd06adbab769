/**
 * The policy port the protocol adapters call (DESIGN.md §1: `policy.authorize(principal, action,
 * resource, context)`). An engine compiles a principal once; the compiled policy answers each
 * request, from its decision cache when it can.
 */
import type { Principal } from '../identity/principal.ts';
import type { Action } from './actions.ts';

export interface Decision {
  allowed: boolean;
  /**
   * Which rule decided, for the event log: `<policy>#<sid>` (or `<policy>#<index>` for a
   * statement without sid), `default-deny` when nothing matched, `quarantine#deny-all-else`
   * when a quarantined principal asked for something the quarantine policy does not grant.
   */
  rule: string;
}

/** What a request carries besides action and resource. */
export interface RequestContext {
  /**
   * Remote address of the request: `1.2.3.4`, `2001:db8::1`, `::ffff:1.2.3.4`, and with a
   * port `1.2.3.4:5678` or `[2001:db8::1]:5678`. Needed by `sourceCidr` conditions; without it
   * an allow with such a condition does not apply and a deny with one does.
   */
  source?: string | null;
}

export interface CompiledPolicy {
  authorize(action: Action, resource: string, context?: RequestContext): Decision;
}

export interface PolicyEngine {
  compile(principal: Principal): CompiledPolicy;
}

export interface PolicyChange {
  /** The engine version after the change. */
  version: number;
  previousVersion: number;
}

export type PolicyChangeListener = (change: PolicyChange) => void;

/** An engine whose policies can change while sessions are live. */
export interface DynamicPolicyEngine extends PolicyEngine {
  /** Increases with every change; compiled policies re-compile themselves when it moves. */
  readonly version: number;
  /** Called after each change; returns the function that unsubscribes. */
  onChange(listener: PolicyChangeListener): () => void;
}
