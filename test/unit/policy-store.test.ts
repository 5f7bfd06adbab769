/** The engine fed from the SQLite store: what `palisade policy put/attach` writes is what the engine decides on. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Actions } from '../../src/core/policy/actions.ts';
import { ZeroTrustPolicyEngine } from '../../src/core/policy/engine.ts';
import { loadPolicyConfig, mergePolicyConfigs, policiesFromSegmentGrants } from '../../src/core/policy/sources.ts';
import { allow, device, doc } from '../../src/core/policy/test-fixtures.ts';
import type { Store } from '../../src/core/ports.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

describe('policies from the store', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('loads documents and attachments, and a reload applies to live compiled policies', async () => {
    await store.policies.put(doc('cams', allow(['mqtt:publish'], ['fleet/${device.id}'], { sid: 'fleet' })));
    await store.policies.attach({ kind: 'segment', id: 'video' }, 'cams');
    const engine = new ZeroTrustPolicyEngine(await loadPolicyConfig(store.policies));
    const live = engine.compile(device());
    expect(live.authorize(Actions.mqttPublish, 'fleet/cam-1')).toEqual({ allowed: true, rule: 'cams#fleet' });

    let changes = 0;
    engine.onChange(() => changes++);
    await store.policies.detach({ kind: 'segment', id: 'video' }, 'cams');
    engine.update(await loadPolicyConfig(store.policies));
    expect(changes).toBe(1);
    expect(live.authorize(Actions.mqttPublish, 'fleet/cam-1').allowed).toBe(false);
  });

  it('combines stored policies with the config file grants', async () => {
    await store.policies.put(doc('cams', allow(['http:get'], ['/x'])));
    await store.policies.attach({ kind: 'device', id: 'cam-1' }, 'cams');
    const grants = policiesFromSegmentGrants({ video: { publish: ['extra/${device.id}'], subscribe: [] } });
    const engine = new ZeroTrustPolicyEngine(mergePolicyConfigs(grants, await loadPolicyConfig(store.policies)));
    const p = engine.compile(device());
    expect(p.authorize(Actions.httpGet, '/x').allowed).toBe(true);
    expect(p.authorize(Actions.mqttPublish, 'extra/cam-1').allowed).toBe(true);
  });
});
