/** Starts the CoAP listeners from config: one CoapServer per transport (gateway.ts calls this). */
import type { EventLog } from '../../core/events/event-log.ts';
import type { DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import type { PolicyEngine } from '../../core/policy/types.ts';
import type { PalisadeConfig } from '../../config/schema.ts';
import type { BoundListener } from '../mqtt/listeners.ts';
import { CoapServer, DEFAULT_COAP_LIMITS } from './server.ts';
import type { CoapResource } from './router.ts';
import { startCoapUdpListener } from './udp-listener.ts';

export interface CoapListenerDeps {
  messaging: DeviceMessaging;
  policy: PolicyEngine;
  events: EventLog;
  /** More resources beside /ps, e.g. queues and shadows (exchange-resources.ts). */
  resources?: ReadonlyArray<{ prefix: string[]; resource: CoapResource }>;
}

export async function startCoapListeners(deps: CoapListenerDeps, listeners: PalisadeConfig['listeners']): Promise<BoundListener[]> {
  const out: BoundListener[] = [];
  const c = listeners.coap;
  if (c.enabled) {
    const server = new CoapServer({ ...deps, limits: DEFAULT_COAP_LIMITS });
    for (const r of deps.resources ?? []) server.router.add(r.prefix, r.resource);
    out.push(await startCoapUdpListener(server, { name: 'coap', host: c.host, port: c.port, anonymousSegment: c.anonymous?.segment ?? null, maxDatagramsPerSecond: c.maxDatagramsPerSecond, events: deps.events }));
  }
  return out;
}
