/**
 * Forwarders to upstream resolvers (issue 6): UDP with TCP fallback, TCP and DNS over TLS, in
 * failover order, hardened against spoofing (RFC 5452). See forwarder.ts.
 */
export { createUpstream, DEFAULT_IDLE_MS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_UDP_PORT_MAX_AGE_MS, DEFAULT_UDP_QUERIES_PER_PORT, type Upstream, type UpstreamLogger, type UpstreamOptions, type UpstreamStats } from './forwarder.ts';
