/**
 * Where an engine's configuration comes from: the store (`palisade policy put/attach`), and
 * the foundation's `policy.segments` config grants, turned into ordinary policies so both
 * keep working side by side.
 */
import { Actions } from './actions.ts';
import { POLICY_VERSION, type PolicyConfig, type PolicyDocument, type PolicyStatement } from './document.ts';
import type { PolicyRepo } from '../ports.ts';

export interface LegacySegmentGrants {
  publish: readonly string[];
  subscribe: readonly string[];
}

/** The policy name a segment's config grants become. */
export function legacyPolicyName(segment: string): string {
  return `config.segment.${segment}`;
}

/**
 * `policy.segments.<S>.{publish,subscribe}` from the config file as one policy per segment,
 * attached to it. Subscribe grants also allow mqtt:receive, as the foundation's engine did.
 */
export function policiesFromSegmentGrants(grants: Readonly<Record<string, LegacySegmentGrants>>): PolicyConfig {
  const policies: PolicyDocument[] = [];
  const segment: Record<string, string[]> = {};
  for (const [name, g] of Object.entries(grants)) {
    const statements: PolicyStatement[] = [];
    if (g.publish.length > 0) statements.push({ sid: 'publish', effect: 'allow', actions: [Actions.mqttPublish], resources: [...g.publish] });
    if (g.subscribe.length > 0) {
      statements.push({ sid: 'subscribe', effect: 'allow', actions: [Actions.mqttSubscribe, Actions.mqttReceive], resources: [...g.subscribe] });
    }
    if (statements.length === 0) continue;
    const doc: PolicyDocument = { name: legacyPolicyName(name), version: POLICY_VERSION, description: `policy.segments.${name} from the config file`, statements };
    policies.push(doc);
    Object.defineProperty(segment, name, { value: [doc.name], enumerable: true, writable: true, configurable: true });
  }
  return { policies, attachments: { segment, device: {} } };
}

/** Everything the store holds, ready for `new ZeroTrustPolicyEngine(...)` or `engine.update(...)`. */
export async function loadPolicyConfig(repo: PolicyRepo): Promise<PolicyConfig> {
  const [policies, attachments] = await Promise.all([repo.list(), repo.attachments()]);
  return { policies, attachments };
}

/** Concatenates configurations; a policy name defined twice is refused later by the engine. */
export function mergePolicyConfigs(...configs: readonly PolicyConfig[]): PolicyConfig {
  const out: PolicyConfig = { policies: [], attachments: { segment: {}, device: {} } };
  for (const c of configs) {
    out.policies.push(...c.policies);
    for (const kind of ['segment', 'device'] as const) {
      for (const [target, names] of Object.entries(c.attachments[kind])) {
        const existing = Object.hasOwn(out.attachments[kind], target) ? (out.attachments[kind][target] ?? []) : [];
        Object.defineProperty(out.attachments[kind], target, { value: [...new Set([...existing, ...names])], enumerable: true, writable: true, configurable: true });
      }
    }
  }
  return out;
}
