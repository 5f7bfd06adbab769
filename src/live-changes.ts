/**
 * What the gateway does with the store's change feed (core/fleet/change-watcher.ts): policies
 * changed anywhere are reloaded into the running engine, and a device changed anywhere (moved
 * to another segment or to quarantine, re-attributed, disabled, deleted) is re-read and applied
 * to its live and offline sessions. No restart, and no window in which old grants linger.
 */
import type { PalisadeConfig } from './config/schema.ts';
import type { EventLog } from './core/events/event-log.ts';
import type { ChangeHandlers } from './core/fleet/change-watcher.ts';
import { withDeviceState, type DevicePrincipal } from './core/identity/principal.ts';
import type { Broker } from './core/messaging/broker.ts';
import type { DeviceMessaging } from './core/messaging/device-messaging.ts';
import { dropRevokedSubscriptions } from './core/messaging/reauthorize.ts';
import { loadPolicyConfig, mergePolicyConfigs, policiesFromSegmentGrants, type ZeroTrustPolicyEngine } from './core/policy/index.ts';
import type { Store } from './core/ports.ts';
import type { MqttServer } from './protocols/mqtt/server.ts';

export interface LiveChangeDeps {
  store: Store;
  config: PalisadeConfig;
  policy: ZeroTrustPolicyEngine;
  broker: Broker;
  mqtt: MqttServer;
  events: EventLog;
  /** HTTP SSE streams and CoAP observations follow device changes too (policy changes reach them through engine.onChange). */
  deviceMessaging?: DeviceMessaging;
}

/** The policy configuration the gateway runs: config grants next to the stored policies. */
export async function currentPolicyConfig(store: Store, config: PalisadeConfig): Promise<ReturnType<typeof mergePolicyConfigs>> {
  return mergePolicyConfigs(policiesFromSegmentGrants(config.policy.segments), await loadPolicyConfig(store.policies));
}

/** Offline sessions of `deviceId` (or of everyone): update the principal, drop what is no longer allowed. */
function reauthorizeOffline(deps: LiveChangeDeps, deviceId: string | null, next: ((p: DevicePrincipal) => DevicePrincipal) | null, cause: string): void {
  for (const session of deps.broker.sessions()) {
    if (session.sink !== null) continue;
    if (deviceId !== null && session.principal.id !== deviceId) continue;
    if (next) session.principal = next(session.principal);
    const dropped = dropRevokedSubscriptions(deps.broker, session, deps.policy.compile(session.principal));
    for (const d of dropped) {
      deps.events.record('policy.subscription_revoked', 'warning', { principal: session.principal.id, detail: { clientId: session.clientId, filter: d.filter, rule: d.decision.rule, cause, offline: true } });
    }
  }
}

export function liveChangeHandlers(deps: LiveChangeDeps): ChangeHandlers {
  return {
    async policies(names) {
      deps.policy.update(await currentPolicyConfig(deps.store, deps.config));
      deps.events.record('policy.reloaded', 'info', { detail: { policies: [...names], version: deps.policy.version } });
      deps.mqtt.reauthorizeAll('policy changed');
      reauthorizeOffline(deps, null, null, 'policy changed');
    },
    async devices(ids) {
      for (const id of ids) {
        const device = await deps.store.devices.get(id);
        if (device === null || device.status !== 'active') {
          deps.mqtt.updateDevice(id, null, device === null ? 'deleted' : 'disabled');
          deps.deviceMessaging?.updateDevice(id, null, device === null ? 'deleted' : 'disabled');
          continue;
        }
        const next = (p: DevicePrincipal): DevicePrincipal => withDeviceState(p, device);
        deps.mqtt.updateDevice(id, next, 'changed');
        deps.deviceMessaging?.updateDevice(id, next, 'device changed');
        reauthorizeOffline(deps, id, next, 'device changed');
      }
    },
    onError(err) {
      deps.events.record('gateway.change_apply_failed', 'critical', { detail: { error: err instanceof Error ? err.message : String(err) } });
    },
  };
}
