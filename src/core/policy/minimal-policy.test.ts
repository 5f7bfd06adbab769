import { describe, expect, it } from 'vitest';
import type { DevicePrincipal } from '../identity/principal.ts';
import { Actions } from './actions.ts';
import { MinimalPolicyEngine } from './minimal-policy.ts';

const dev: DevicePrincipal = { kind: 'device', id: 'cam-1', segment: 'video', authMethod: 'certificate', attrs: {}, certSerial: 'ab', certCommonName: 'cam-1' };

describe('MinimalPolicyEngine', () => {
  const engine = new MinimalPolicyEngine({ video: { publish: ['fleet/${device.id}/status'], subscribe: ['fleet/${device.segment}/#'] } });
  const p = engine.compile(dev);

  it('allows the own prefix and the broadcast tree', () => {
    expect(p.authorize(Actions.mqttPublish, 'video/cam-1/frames').allowed).toBe(true);
    expect(p.authorize(Actions.mqttSubscribe, 'video/cam-1/cmd/#').allowed).toBe(true);
    expect(p.authorize(Actions.mqttSubscribe, 'video/broadcast/+').allowed).toBe(true);
  });

  it('denies everything else by default, with the rule named', () => {
    const d = p.authorize(Actions.mqttPublish, 'video/cam-2/frames');
    expect(d).toEqual({ allowed: false, rule: 'default-deny' });
    expect(p.authorize(Actions.mqttPublish, 'video/broadcast/x').allowed).toBe(false);
    expect(p.authorize(Actions.mqttSubscribe, 'video/#').allowed).toBe(false);
    expect(p.authorize(Actions.mqttSubscribe, '#').allowed).toBe(false);
    expect(p.authorize(Actions.mqttSubscribe, 'video/+/frames').allowed).toBe(false);
  });

  it('expands variables in configured grants', () => {
    expect(p.authorize(Actions.mqttPublish, 'fleet/cam-1/status').allowed).toBe(true);
    expect(p.authorize(Actions.mqttPublish, 'fleet/cam-2/status').allowed).toBe(false);
    expect(p.authorize(Actions.mqttSubscribe, 'fleet/video/+/x').allowed).toBe(true);
    expect(p.authorize(Actions.mqttSubscribe, 'fleet/hvac/#').allowed).toBe(false);
  });

  it('returns the same decision from the cache', () => {
    const a = p.authorize(Actions.mqttPublish, 'video/cam-1/x');
    expect(p.authorize(Actions.mqttPublish, 'video/cam-1/x')).toBe(a);
  });
});
