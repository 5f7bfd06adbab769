import { describe, expect, it } from 'vitest';
import { ALL_ACTIONS, actionFamily, expandActionPattern, isAction, resourceKind } from './actions.ts';

describe('action catalogue', () => {
  it('holds every family of the issue', () => {
    for (const a of ['mqtt:connect', 'mqtt:publish', 'mqtt:subscribe', 'mqtt:receive', 'http:get', 'http:post', 'http:put', 'http:delete', 'coap:get', 'coap:post', 'coap:put', 'coap:delete', 'coap:observe', 'queue:push', 'queue:pull', 'queue:ack', 'shadow:get', 'shadow:update', 'firmware:download', 'dns:resolve', 'admin:read', 'admin:write']) {
      expect(isAction(a), a).toBe(true);
    }
    expect(new Set(ALL_ACTIONS.map(actionFamily))).toEqual(new Set(['mqtt', 'http', 'coap', 'queue', 'shadow', 'firmware', 'dns', 'admin']));
  });

  it('expands exact names, family wildcards and *; nothing else', () => {
    expect(expandActionPattern('mqtt:publish')).toEqual(['mqtt:publish']);
    expect(expandActionPattern('mqtt:*')).toEqual(['mqtt:connect', 'mqtt:publish', 'mqtt:subscribe', 'mqtt:receive']);
    expect(expandActionPattern('queue:*')).toEqual(['queue:push', 'queue:pull', 'queue:ack']);
    expect(expandActionPattern('*')).toEqual(ALL_ACTIONS);
    for (const bad of ['mqtt:pub*', 'mqtt', 'x:*', '*:*', 'mqtt:**', 'Mqtt:publish']) expect(expandActionPattern(bad), bad).toBeNull();
  });

  it('reads resources per action', () => {
    expect(resourceKind('mqtt:publish')).toBe('topic');
    expect(resourceKind('mqtt:receive')).toBe('topic');
    expect(resourceKind('mqtt:subscribe')).toBe('filter');
    expect(resourceKind('mqtt:connect')).toBe('glob');
    expect(resourceKind('dns:resolve')).toBe('domain');
    expect(resourceKind('http:get')).toBe('glob');
  });
});
