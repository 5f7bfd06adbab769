/**
 * The foundation's policy: deny by default; a device may publish and subscribe under
 * `<segment>/<device-id>/#` and subscribe to `<segment>/broadcast/#`, plus per-segment grants
 * from config. Superseded by ZeroTrustPolicyEngine (engine.ts) behind the same `PolicyEngine`
 * port; kept until the gateway is wired to the new engine.
 *
 * Decisions are compiled once per principal and cached per resource, so the hot path is a map
 * lookup (DESIGN.md §1).
 */
import type { Principal } from '../identity/principal.ts';
import { filterCovers, topicMatches } from '../messaging/topics.ts';
import { Actions, type Action } from './actions.ts';
import type { CompiledPolicy, Decision, PolicyEngine } from './types.ts';

export interface SegmentGrants {
  publish: readonly string[];
  subscribe: readonly string[];
}

// The port moved to types.ts with the full policy language; re-exported so adapters keep compiling.
export type { CompiledPolicy, Decision, PolicyEngine, RequestContext } from './types.ts';

const CACHE_LIMIT = 4096;

function substitute(pattern: string, p: Principal): string {
  return pattern.replaceAll('${device.id}', p.id).replaceAll('${device.segment}', p.segment);
}

class CompiledDevicePolicy implements CompiledPolicy {
  readonly #publish: string[];
  readonly #subscribe: string[];
  readonly #cache = new Map<string, Decision>();

  constructor(publish: string[], subscribe: string[]) {
    this.#publish = publish;
    this.#subscribe = subscribe;
  }

  authorize(action: Action, resource: string): Decision {
    const key = `${action}\u0000${resource}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const decision = this.#decide(action, resource);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(key, decision);
    return decision;
  }

  #decide(action: Action, resource: string): Decision {
    switch (action) {
      case Actions.mqttConnect:
        return { allowed: true, rule: 'device-may-connect' };
      case Actions.mqttPublish: {
        const grant = this.#publish.find((f) => topicMatches(f, resource));
        return grant ? { allowed: true, rule: `publish:${grant}` } : { allowed: false, rule: 'default-deny' };
      }
      case Actions.mqttSubscribe:
      case Actions.mqttReceive: {
        const grant = this.#subscribe.find((f) => filterCovers(f, resource));
        return grant ? { allowed: true, rule: `subscribe:${grant}` } : { allowed: false, rule: 'default-deny' };
      }
      default:
        return { allowed: false, rule: 'default-deny' };
    }
  }
}

export class MinimalPolicyEngine implements PolicyEngine {
  readonly #grants: Readonly<Record<string, SegmentGrants>>;

  constructor(grants: Readonly<Record<string, SegmentGrants>>) {
    this.#grants = grants;
  }

  compile(principal: Principal): CompiledPolicy {
    const own = `${principal.segment}/${principal.id}/#`;
    const extra = this.#grants[principal.segment];
    const publish = [own, ...(extra?.publish ?? []).map((f) => substitute(f, principal))];
    const subscribe = [own, `${principal.segment}/broadcast/#`, ...(extra?.subscribe ?? []).map((f) => substitute(f, principal))];
    return new CompiledDevicePolicy(publish, subscribe);
  }
}
