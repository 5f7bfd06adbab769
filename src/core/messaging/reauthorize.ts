/**
 * Re-deciding what a session already holds (issue 3 point 6): when policies change or the
 * session's device moves (a new segment, quarantine), every subscription is asked for again
 * and those no longer allowed are dropped at once, so nothing more is delivered on them.
 * Offline persistent sessions are included: a quarantined device must not find its old
 * subscriptions (and the messages they would queue) waiting when it reconnects.
 */
import type { CompiledPolicy, Decision, RequestContext } from '../policy/types.ts';
import { revokedSubscriptions } from '../policy/recheck.ts';
import type { Broker } from './broker.ts';
import type { Session } from './session.ts';
import { gatewayFilterDecision } from './gateway-filters.ts';

export interface DroppedSubscription {
  /** As the client subscribed, including any `$share/<group>/` prefix. */
  filter: string;
  decision: Decision;
}

const SHARE_PREFIX = '$share/';

/** The filter a policy judges: a shared subscription is judged on the filter after its group. */
function policyFilter(subscribed: string): string {
  if (!subscribed.startsWith(SHARE_PREFIX)) return subscribed;
  const slash = subscribed.indexOf('/', SHARE_PREFIX.length);
  return slash < 0 ? subscribed : subscribed.slice(slash + 1);
}

/** Drops the session's subscriptions `policy` no longer allows; returns what was dropped. */
export function dropRevokedSubscriptions(broker: Broker, session: Session, policy: CompiledPolicy, context?: RequestContext): DroppedSubscription[] {
  const bySubject = new Map<string, string[]>();
  const ownDecisions: DroppedSubscription[] = [];
  for (const subscribed of session.subscriptions.keys()) {
    const f = policyFilter(subscribed);
    // $shadow/ and $command/ reply topics answer to their own actions, not mqtt:subscribe.
    const own = gatewayFilterDecision(policy, session.principal.id, f, context);
    if (own) {
      if (!own.allowed) ownDecisions.push({ filter: subscribed, decision: own });
      continue;
    }
    const list = bySubject.get(f);
    if (list) list.push(subscribed);
    else bySubject.set(f, [subscribed]);
  }
  const dropped: DroppedSubscription[] = [];
  for (const d of ownDecisions) if (broker.unsubscribe(session, d.filter)) dropped.push(d);
  for (const r of revokedSubscriptions(policy, bySubject.keys(), context)) {
    for (const subscribed of bySubject.get(r.filter) ?? []) {
      if (broker.unsubscribe(session, subscribed)) dropped.push({ filter: subscribed, decision: r.decision });
    }
  }
  return dropped;
}
