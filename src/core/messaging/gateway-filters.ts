/**
 * Subscriptions to the gateway's own reply topics (issue 4, point 5) are decided by their own
 * actions, not by `mqtt:subscribe`: `$shadow/<id>/...` as `shadow:get` on the device id, and
 * `$command/<id>/...` only for the device `<id>` itself. Used when a subscription is made
 * (protocols/mqtt/gateway-topics.ts) and when it is re-decided (reauthorize.ts), so a policy
 * change or a resumed session keeps exactly the same answer.
 */
import { Actions } from '../policy/actions.ts';
import type { CompiledPolicy, Decision, RequestContext } from '../policy/types.ts';

export const SHADOW_TOPIC_PREFIX = '$shadow/';
export const COMMAND_TOPIC_PREFIX = '$command/';

function firstLevel(filter: string, prefix: string): string {
  return filter.slice(prefix.length).split('/', 1)[0] ?? '';
}

/** The decision for a gateway reply filter (without any `$share/<group>/`), or null when it is an ordinary filter. */
export function gatewayFilterDecision(policy: CompiledPolicy, principalId: string, filter: string, context?: RequestContext): Decision | null {
  if (filter.startsWith(SHADOW_TOPIC_PREFIX)) {
    const id = firstLevel(filter, SHADOW_TOPIC_PREFIX);
    if (id === '' || id.includes('+') || id.includes('#')) return { allowed: false, rule: 'shadow-filter-needs-device-id' };
    return policy.authorize(Actions.shadowGet, id, context);
  }
  if (filter.startsWith(COMMAND_TOPIC_PREFIX)) {
    return firstLevel(filter, COMMAND_TOPIC_PREFIX) === principalId ? { allowed: true, rule: 'own-commands' } : { allowed: false, rule: 'commands-of-another-device' };
  }
  return null;
}
