/** Starts the CoAP listeners from config: one CoapServer per transport (gateway.ts calls this). */
import type { EventLog } from '../../core/events/event-log.ts';
import type { DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import type { PolicyEngine } from '../../core/policy/types.ts';
import type { PalisadeConfig } from '../../config/schema.ts';
import type { BoundListener } from '../mqtt/listeners.ts';
import type { DtlsServer } from '../dtls/server.ts';
import { CoapServer, DEFAULT_COAP_LIMITS } from './server.ts';
import type { CoapResource } from './router.ts';
import { startCoapUdpListener } from './udp-listener.ts';
import { startCoapsListener } from './dtls-adapter.ts';
import { deviceDtlsHooks, dtlsPrincipal } from '../dtls/device-hooks.ts';
import type { Store } from '../../core/ports.ts';
import type { SecretBox } from '../../core/secrets/index.ts';

export interface CoapListenerDeps {
  messaging: DeviceMessaging;
  policy: PolicyEngine;
  events: EventLog;
  /** More resources beside /ps, e.g. queues and shadows (exchange-resources.ts). */
  resources?: ReadonlyArray<{ prefix: string[]; resource: CoapResource }>;
  /** What CoAPS needs: device PSKs and certificates (dtls/device-hooks.ts) and the server certificate. */
  dtls?: { store: Store; secrets: SecretBox; cert: { certPem: string; keyPem: string; caPem: string } };
  /** The shield's address bans (shield/bans); CoAP over UDP drops banned senders' datagrams. */
  banned?: (address: string) => boolean;
}

export interface CoapListeners {
  bound: BoundListener[];
  /** How the plain-UDP listener does its I/O (null when it is off). */
  udpIo: 'batched' | 'node' | null;
  /** Ends the live CoAPS (DTLS) sessions authenticated with one of these certificates. */
  closeByCertificate(serials: ReadonlySet<string>): number;
}

export async function startCoapListeners(deps: CoapListenerDeps, listeners: PalisadeConfig['listeners']): Promise<CoapListeners> {
  const out: BoundListener[] = [];
  let dtlsServer: DtlsServer | null = null;
  let udpIo: CoapListeners['udpIo'] = null;
  const c = listeners.coap;
  if (c.enabled) {
    const server = new CoapServer({ ...deps, limits: DEFAULT_COAP_LIMITS });
    for (const r of deps.resources ?? []) server.router.add(r.prefix, r.resource);
    const udp = await startCoapUdpListener(server, { name: 'coap', host: c.host, port: c.port, anonymousSegment: c.anonymous?.segment ?? null, maxDatagramsPerSecond: c.maxDatagramsPerSecond, events: deps.events, io: c.io, ...(deps.banned ? { banned: deps.banned } : {}) });
    udpIo = udp.io;
    out.push(udp);
  }
  const s = listeners.coaps;
  const dtls = deps.dtls;
  if (s.enabled && dtls) {
    const server = new CoapServer({ ...deps, limits: DEFAULT_COAP_LIMITS });
    for (const r of deps.resources ?? []) server.router.add(r.prefix, r.resource);
    const coaps = await startCoapsListener(server, {
      name: 'coaps',
      host: s.host,
      port: s.port,
      events: deps.events,
      epoch: () => deps.messaging.epoch,
      dtls: { ...deviceDtlsHooks({ store: dtls.store, secrets: dtls.secrets }), cert: dtls.cert, ...(deps.banned ? { dropFrom: deps.banned } : {}) },
      resolvePrincipal: (identity) => dtlsPrincipal(dtls.store, identity),
    });
    dtlsServer = coaps.dtls;
    out.push(coaps);
  }
  return {
    bound: out,
    udpIo,
    closeByCertificate: (serials) => dtlsServer?.closeSessions((s) => s.identity.kind === 'certificate' && serials.has(s.identity.cert.serial)) ?? 0,
  };
}
