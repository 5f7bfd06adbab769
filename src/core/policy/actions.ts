/**
 * The one catalogue of actions that policy decides on (DESIGN.md §1). A policy may name an
 * action exactly, a whole family (`mqtt:*`) or everything (`*`); anything else is refused when
 * the document is parsed, so a typo can never silently grant or deny nothing.
 */
export const Actions = {
  mqttConnect: 'mqtt:connect',
  mqttPublish: 'mqtt:publish',
  mqttSubscribe: 'mqtt:subscribe',
  mqttReceive: 'mqtt:receive',
  httpGet: 'http:get',
  httpHead: 'http:head',
  httpPost: 'http:post',
  httpPut: 'http:put',
  httpPatch: 'http:patch',
  httpDelete: 'http:delete',
  coapGet: 'coap:get',
  coapPost: 'coap:post',
  coapPut: 'coap:put',
  coapDelete: 'coap:delete',
  coapObserve: 'coap:observe',
  queuePush: 'queue:push',
  queuePull: 'queue:pull',
  queueAck: 'queue:ack',
  shadowGet: 'shadow:get',
  shadowUpdate: 'shadow:update',
  shadowDelete: 'shadow:delete',
  firmwareDownload: 'firmware:download',
  dnsResolve: 'dns:resolve',
  adminRead: 'admin:read',
  adminWrite: 'admin:write',
} as const;

export type Action = (typeof Actions)[keyof typeof Actions];

/** Every action, in catalogue order. */
export const ALL_ACTIONS: readonly Action[] = Object.freeze(Object.values(Actions));

const ACTION_SET: ReadonlySet<string> = new Set(ALL_ACTIONS);

/** The part before the colon: `mqtt`, `http`, `coap`, `queue`, `shadow`, `firmware`, `dns`, `admin`. */
export type ActionFamily = 'mqtt' | 'http' | 'coap' | 'queue' | 'shadow' | 'firmware' | 'dns' | 'admin';

export const ACTION_FAMILIES: readonly ActionFamily[] = Object.freeze(['mqtt', 'http', 'coap', 'queue', 'shadow', 'firmware', 'dns', 'admin']);

export function isAction(value: string): value is Action {
  return ACTION_SET.has(value);
}

export function actionFamily(action: Action): ActionFamily {
  return action.slice(0, action.indexOf(':')) as ActionFamily;
}

/**
 * The actions a pattern from a policy names: an exact action, `<family>:*` or `*`. Returns
 * null for anything else (unknown action, unknown family, a partial wildcard like `mqtt:pub*`).
 */
export function expandActionPattern(pattern: string): readonly Action[] | null {
  if (pattern === '*') return ALL_ACTIONS;
  if (isAction(pattern)) return [pattern];
  if (pattern.endsWith(':*')) {
    const family = pattern.slice(0, -2);
    if (!(ACTION_FAMILIES as readonly string[]).includes(family)) return null;
    return ALL_ACTIONS.filter((a) => a.startsWith(`${family}:`));
  }
  return null;
}

/**
 * How a resource is read for an action (see README "Policy"):
 * - `topic`: mqtt:publish and mqtt:receive; the resource is a topic name, policy resources are filters.
 * - `filter`: mqtt:subscribe; the resource is the requested filter, which a grant must cover.
 * - `domain`: dns:resolve; a glob compared case-insensitively, without a trailing dot.
 * - `glob`: everything else (client ids, HTTP/CoAP paths, queue names, shadow and firmware names, admin paths).
 */
export type ResourceKind = 'topic' | 'filter' | 'domain' | 'glob';

export function resourceKind(action: Action): ResourceKind {
  switch (action) {
    case Actions.mqttPublish:
    case Actions.mqttReceive:
      return 'topic';
    case Actions.mqttSubscribe:
      return 'filter';
    case Actions.dnsResolve:
      return 'domain';
    default:
      return 'glob';
  }
}
