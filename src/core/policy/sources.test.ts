import { describe, expect, it } from 'vitest';
import { Actions } from './actions.ts';
import { ZeroTrustPolicyEngine } from './engine.ts';
import { MinimalPolicyEngine } from './minimal-policy.ts';
import { revokedSubscriptions } from './recheck.ts';
import { mergePolicyConfigs, policiesFromSegmentGrants } from './sources.ts';
import { allow, config, device, doc } from './test-fixtures.ts';

describe('config grants as policies', () => {
  const grants = { video: { publish: ['fleet/${device.id}/status'], subscribe: ['fleet/${device.segment}/#'] }, idle: { publish: [], subscribe: [] } };

  it('decides like the foundation engine did', () => {
    const legacy = new MinimalPolicyEngine(grants).compile(device());
    const now = new ZeroTrustPolicyEngine(policiesFromSegmentGrants(grants)).compile(device());
    const requests: Array<[Parameters<typeof legacy.authorize>[0], string]> = [
      [Actions.mqttPublish, 'video/cam-1/frames'],
      [Actions.mqttSubscribe, 'video/cam-1/cmd/#'],
      [Actions.mqttSubscribe, 'video/broadcast/+'],
      [Actions.mqttPublish, 'video/cam-2/frames'],
      [Actions.mqttPublish, 'video/broadcast/x'],
      [Actions.mqttSubscribe, 'video/#'],
      [Actions.mqttPublish, 'fleet/cam-1/status'],
      [Actions.mqttPublish, 'fleet/cam-2/status'],
      [Actions.mqttSubscribe, 'fleet/video/+/x'],
      [Actions.mqttSubscribe, 'fleet/hvac/#'],
      [Actions.mqttConnect, 'cam-1'],
    ];
    for (const [action, resource] of requests) expect(now.authorize(action, resource).allowed, `${action} ${resource}`).toBe(legacy.authorize(action, resource).allowed);
  });

  it('makes one policy per segment with grants, attached to it', () => {
    const c = policiesFromSegmentGrants(grants);
    expect(c.policies.map((p) => p.name)).toEqual(['config.segment.video']);
    expect(c.attachments).toEqual({ segment: { video: ['config.segment.video'] }, device: {} });
  });

  it('merges configurations, de-duplicating attachments', () => {
    const a = config([doc('a')], { s: ['a'] });
    const b = config([doc('b')], { s: ['a', 'b'] }, { d: ['b'] });
    expect(mergePolicyConfigs(a, b)).toEqual(config([doc('a'), doc('b')], { s: ['a', 'b'] }, { d: ['b'] }));
  });
});

describe('revokedSubscriptions', () => {
  it('lists the filters a changed policy no longer allows', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['mqtt:subscribe'], ['fleet/#']))], { video: ['p'] }));
    const p = e.compile(device());
    const held = ['video/cam-1/#', 'fleet/a/#', 'fleet/#'];
    expect(revokedSubscriptions(p, held)).toEqual([]);
    e.update(config([doc('p', allow(['mqtt:subscribe'], ['fleet/a/#']))], { video: ['p'] }));
    expect(revokedSubscriptions(p, held)).toEqual([{ filter: 'fleet/#', decision: { allowed: false, rule: 'default-deny' } }]);
  });
});
