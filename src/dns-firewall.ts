/**
 * The DNS firewall's composition (issue 6), called by gateway.ts: lists (files, URLs, the bundled
 * IoT threat list) into the per-segment filter, the client directory that ties an address to a
 * device, the upstream forwarders, the engine (cache, abuse bounds), its observers (the query log
 * in the store, DNS telemetry into the anomaly detector), the UDP and TCP listeners, and DoH
 * routes for the HTTPS listener.
 *
 * Lists load before the listeners open: a resolver that answered before its block lists were in
 * force would resolve, for a moment, exactly what it exists to refuse.
 */
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { PalisadeConfig } from './config/schema.ts';
import { LearnedClientDirectory } from './core/dns/client-directory.ts';
import { createDnsFilter, type DnsFilterInput } from './core/dns/filter.ts';
import { fanOut } from './core/dns/telemetry/index.ts';
import type { DnsQueryObserver } from './core/dns/types.ts';
import type { EventLog } from './core/events/event-log.ts';
import type { SecurityEventInput, Store } from './core/ports.ts';
import type { InboundMessage } from './core/messaging/inspection.ts';
import type { RouteGroup } from './protocols/http/app.ts';
import type { DeviceAuth } from './protocols/http/device-auth.ts';
import { dohRoutes } from './protocols/dns/doh-routes.ts';
import { createDohH2, type DohH2 } from './protocols/dns/doh-h2.ts';
import { createDnsEngine, type DnsEngine } from './protocols/dns/engine.ts';
import { startDnsListeners } from './protocols/dns/listeners.ts';
import { ListSources, withBundledThreatList } from './protocols/dns/list-sources.ts';
import { DnsQueryLogWriter } from './protocols/dns/query-log-writer.ts';
import { createUpstream } from './protocols/dns/upstream/index.ts';
import type { BoundListener } from './protocols/mqtt/listeners.ts';
import type { AnomalyDetector } from './shield/anomaly/detector.ts';
import { DnsAnomalyTap } from './shield/anomaly/dns-tap.ts';

export interface DnsFirewallDeps {
  config: PalisadeConfig;
  store: Store;
  events: EventLog;
  logger: Logger;
  detector: Pick<AnomalyDetector, 'recordDnsQuery'> | null;
  /** Device credentials for DoH, as the device API checks them. */
  auth: Pick<DeviceAuth, 'contextOf'>;
}

export interface DnsFirewall {
  readonly engine: DnsEngine;
  readonly directory: LearnedClientDirectory;
  /** DoH at /dns-query (empty when listeners.dns.doh is off). */
  readonly routes: RouteGroup[];
  /** For the HTTPS listener: h2-only clients (DoH stub resolvers) served over HTTP/2. */
  readonly h2Only: ((socket: TLSSocket) => void) | null;
  /** Tap for the shield inspector: every passed message teaches the directory its sender's address. */
  onPassed(m: InboundMessage): void;
  /** Event-log observer: MQTT connects and segment moves. */
  onEvent(e: SecurityEventInput): void;
  /** Opens UDP and TCP on listeners.dns (same port number); the caller closes them through the result. */
  listen(): Promise<BoundListener>;
  /** Stops list refreshes, DoH over HTTP/2, the upstreams and the query log (after the listeners closed). */
  stop(): Promise<void>;
}

function filterInput(config: PalisadeConfig['dns'], lists: Record<string, { kind: 'block' | 'allow' }>): DnsFilterInput {
  return { default: config.default, segments: config.segments, lists };
}

export async function createDnsFirewall(deps: DnsFirewallDeps): Promise<DnsFirewall> {
  const { config, store, events, logger } = deps;
  const dns = config.dns;
  const listConfigs = withBundledThreatList(
    Object.fromEntries(Object.entries(dns.lists).map(([name, l]) => [name, { source: l.source, format: l.format, kind: l.kind, refreshSeconds: l.refreshSeconds }])),
    dns.bundledThreatList,
  );
  const filter = createDnsFilter(filterInput(dns, Object.fromEntries(Object.entries(listConfigs).map(([n, l]) => [n, { kind: l.kind }]))));
  const sources = new ListSources({
    lists: listConfigs,
    onList: (name, list) => filter.setList(name, list),
    events,
    log: logger,
    baseDir: process.cwd(),
  });
  await sources.start();

  const directory = new LearnedClientDirectory({ staticClients: dns.clients });
  const upstream = createUpstream({ upstreams: dns.upstreams, timeoutMs: dns.timeoutMs, logger, events });
  const observers: DnsQueryObserver[] = [];
  const queryLog = dns.queryLog.enabled ? new DnsQueryLogWriter({ repo: store.dnsQueries, events, retentionDays: dns.queryLog.retentionDays, maxPerSecond: dns.queryLog.maxPerSecond }) : null;
  if (queryLog) {
    queryLog.start();
    observers.push(queryLog);
  }
  if (deps.detector) observers.push(new DnsAnomalyTap(deps.detector));
  const engine = createDnsEngine({ config: dns, filter, clients: directory, upstream, observer: observers.length > 0 ? fanOut(...observers) : null, events });
  const doh = config.listeners.https.enabled && config.listeners.dns.doh;
  const dohDeps = { engine, directory, auth: deps.auth, events };
  const routes = doh ? [dohRoutes(dohDeps)] : [];
  const h2: DohH2 | null = doh ? createDohH2(dohDeps) : null;

  return {
    engine,
    directory,
    routes,
    h2Only: h2 ? (socket) => h2.serve(socket) : null,
    onPassed(m) {
      directory.learn(m.source, m.principal.id, m.principal.segment);
    },
    onEvent(e) {
      if (e.principal === null) return;
      if (e.type === 'mqtt.connected' && e.source !== null && typeof e.detail.segment === 'string') directory.learn(e.source, e.principal, e.detail.segment);
      else if (e.type === 'device.segment_changed' && typeof e.detail.to === 'string') directory.moved(e.principal, e.detail.to);
    },
    async listen() {
      const l = config.listeners.dns;
      const listeners = await startDnsListeners({ host: l.host, port: l.port, io: l.io, engine, logger });
      if (listeners.udpIo === 'node' && l.io === 'auto') logger.info('DNS over UDP uses node:dgram: the batched I/O addon is not built here');
      return { name: 'dns', host: l.host, port: listeners.port, close: () => listeners.close() };
    },
    async stop() {
      sources.close();
      h2?.close();
      await upstream.close();
      await queryLog?.close();
    },
  };
}
