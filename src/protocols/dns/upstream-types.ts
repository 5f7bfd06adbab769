/**
 * The contract between the DNS engine (cache, server) and the upstream forwarders
 * (src/protocols/dns/upstream/*). The engine hands over a query in wire form; the forwarder
 * picks the id and source port itself (random, RFC 5452 §9.2), sends it to the configured
 * upstreams in order (UDP falling back to TCP on TC=1, TCP, DNS over TLS), drops any answer
 * that does not match what it asked (id, question, source address and port, RFC 5452 §3), and
 * returns the response with the caller's original id restored.
 */
export interface DnsUpstream {
  /**
   * Resolves `query` (one question; any id; may carry an OPT record). Rejects with a
   * PalisadeError (code UPSTREAM_FAILED) when every upstream timed out or failed; a SERVFAIL or
   * REFUSED from an upstream is a failure for that upstream and the next is tried.
   */
  forward(query: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}
