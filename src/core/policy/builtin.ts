/**
 * The policies every engine holds whatever the operator configures.
 *
 * - `segment-default` is attached to every segment: the foundation's rule. A device may connect,
 *   publish, subscribe and receive under `<segment>/<device-id>/#`, and subscribe to and receive
 *   `<segment>/broadcast/#`, read and update its own shadow, and use the HTTP and CoAP
 *   transports (whose requests are then decided on the resource). Nothing crosses segments
 *   unless another policy allows it.
 * - `quarantine` is what a quarantined principal (segment `quarantine`, or posture
 *   `quarantined: true`) may do, and all it may do: connect, report status on
 *   `quarantine/<device-id>/status`, and download firmware. Allows from every other policy are
 *   ignored for it; their denies still apply.
 */
import type { Principal } from '../identity/principal.ts';
import { Actions } from './actions.ts';
import { POLICY_VERSION, type PolicyDocument } from './document.ts';

export const SEGMENT_DEFAULT_POLICY = 'segment-default';
export const QUARANTINE_POLICY = 'quarantine';
export const QUARANTINE_SEGMENT = 'quarantine';
export const BUILTIN_POLICY_NAMES: readonly string[] = Object.freeze([SEGMENT_DEFAULT_POLICY, QUARANTINE_POLICY]);

/** The rule a quarantined principal's refusals carry when no deny decided. */
export const QUARANTINE_DENY_RULE = `${QUARANTINE_POLICY}#deny-all-else`;

export const SEGMENT_DEFAULT: PolicyDocument = deepFreeze({
  name: SEGMENT_DEFAULT_POLICY,
  version: POLICY_VERSION,
  description: 'Built in, attached to every segment: own topic tree and the segment broadcast tree.',
  statements: [
    // Client ids are checked against the identity by the authenticator (clientIdMatch), not here.
    { sid: 'connect', effect: 'allow', actions: [Actions.mqttConnect], resources: ['**'] },
    {
      sid: 'own-tree',
      effect: 'allow',
      actions: [Actions.mqttPublish, Actions.mqttSubscribe, Actions.mqttReceive],
      resources: ['${device.segment}/${device.id}/#'],
    },
    { sid: 'broadcast', effect: 'allow', actions: [Actions.mqttSubscribe, Actions.mqttReceive], resources: ['${device.segment}/broadcast/#'] },
    // The transports themselves: what a device may do over HTTP and CoAP is decided by the
    // messaging, queue and shadow actions on the resource; these let an operator deny a
    // transport per segment or device.
    { sid: 'transports', effect: 'allow', actions: ['http:*', 'coap:*'], resources: ['**'] },
    { sid: 'own-shadow', effect: 'allow', actions: ['shadow:*'], resources: ['${device.id}'] },
  ],
});

export const QUARANTINE: PolicyDocument = deepFreeze({
  name: QUARANTINE_POLICY,
  version: POLICY_VERSION,
  description: 'Built in: all a quarantined device may do. Allows from other policies are ignored for it.',
  statements: [
    { sid: 'connect', effect: 'allow', actions: [Actions.mqttConnect], resources: ['**'] },
    { sid: 'status', effect: 'allow', actions: [Actions.mqttPublish], resources: ['quarantine/${device.id}/status'] },
    { sid: 'firmware', effect: 'allow', actions: [Actions.firmwareDownload], resources: ['**'] },
    // Status reports and firmware may travel over HTTP and CoAP too; the resource actions above still decide.
    { sid: 'transports', effect: 'allow', actions: ['http:*', 'coap:*'], resources: ['**'] },
  ],
});

export const BUILTIN_POLICIES: readonly PolicyDocument[] = Object.freeze([SEGMENT_DEFAULT, QUARANTINE]);

export function isBuiltinPolicy(name: string): boolean {
  return BUILTIN_POLICY_NAMES.includes(name);
}

export function isQuarantined(p: Principal): boolean {
  return p.segment === QUARANTINE_SEGMENT || p.quarantined === true;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
