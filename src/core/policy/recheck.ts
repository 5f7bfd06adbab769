/**
 * What a live session does when policy changes (engine.onChange) or its principal moves
 * (a new segment, quarantine): ask again about everything it already holds.
 */
import { Actions } from './actions.ts';
import type { CompiledPolicy, Decision, RequestContext } from './types.ts';

export interface Revoked {
  filter: string;
  decision: Decision;
}

/**
 * The subscription filters (without any `$share/<group>/` prefix) that the policy no longer
 * allows; the session should drop them and stop delivering on them.
 */
export function revokedSubscriptions(policy: CompiledPolicy, filters: Iterable<string>, context?: RequestContext): Revoked[] {
  const out: Revoked[] = [];
  for (const filter of filters) {
    const decision = policy.authorize(Actions.mqttSubscribe, filter, context);
    if (!decision.allowed) out.push({ filter, decision });
  }
  return out;
}
