/**
 * DNS over HTTPS (RFC 8484) at /dns-query on the HTTPS listener (issue 6, point 5): the same
 * engine as UDP and TCP, so the same lists, segment policy, cache, rate limit and query log.
 *
 *   GET  /dns-query?dns=<base64url query>               RFC 8484 §4.1
 *   POST /dns-query  Content-Type: application/dns-message
 *
 * Served over HTTP/1.1 by the HTTPS app (this file's fastify routes) and over HTTP/2 for
 * clients that speak only h2 (doh-h2.ts; RFC 8484 §5.2 recommends HTTP/2, and stub resolvers
 * such as kdig offer nothing else). Both call `answerDoh`.
 *
 * Who asks: a device that presents its credentials (client certificate or device token, as on
 * the device API) is known by them, and its address is learned for the directory; otherwise the
 * source address must already map to a device or a `dns.clients` block. Anyone else gets 401:
 * the HTTPS port usually faces the network, and an open resolver there would serve the world.
 */
import type { TLSSocket } from 'node:tls';
import dnsPacket from 'dns-packet';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { DnsClientDirectory, DnsTransport } from '../../core/dns/types.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { RouteGroup } from '../http/app.ts';
import type { DeviceAuth } from '../http/device-auth.ts';
import { toHttpError } from '../http/errors.ts';
import { formatSource } from '../../core/policy/cidr.ts';

export interface DnsQueryHandler {
  handle(query: Buffer, client: { address: string; port: number }, transport: DnsTransport): Buffer | null | Promise<Buffer | null>;
}

export interface DohDeps {
  engine: DnsQueryHandler;
  directory: DnsClientDirectory & { learn(source: string, deviceId: string, segment: string): void };
  /** Device credentials, as the device API checks them. */
  auth: Pick<DeviceAuth, 'contextOf'>;
  events: Pick<EventLog, 'record'>;
}

/** What answerDoh needs of a request, whatever the HTTP version. */
export interface DohRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  socket: TLSSocket;
  /** POST body (already bounded by the caller), null for GET. */
  body: Buffer | null;
}

export interface DohReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export const DOH_PATH = '/dns-query';
export const DOH_MEDIA_TYPE = 'application/dns-message';
/** RFC 8484 §6: a DNS message over HTTP is at most 65535 bytes. */
export const DOH_MAX_MESSAGE = 65_535;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const json = (status: number, body: object, headers: Record<string, string> = {}): DohReply => ({ status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) });

/** RFC 8484 §5.1: freshness no longer than the smallest TTL in the answer. */
function maxAge(answer: Buffer): number {
  try {
    const p = dnsPacket.decode(answer);
    const ttls = [...(p.answers ?? []), ...(p.authorities ?? [])].map((r) => ('ttl' in r && typeof r.ttl === 'number' ? r.ttl : 0));
    return ttls.length === 0 ? 0 : Math.max(0, Math.min(...ttls));
  } catch {
    return 0;
  }
}

function queryOf(req: DohRequest): Buffer | DohReply {
  if (req.method === 'GET') {
    const dns = new URLSearchParams(req.url.split('?')[1] ?? '').get('dns');
    if (dns === null || dns.length === 0 || !BASE64URL.test(dns) || dns.length > Math.ceil((DOH_MAX_MESSAGE * 4) / 3)) {
      return json(400, { error: 'the dns parameter must be a base64url DNS message (RFC 8484 §4.1)' });
    }
    return Buffer.from(dns, 'base64url');
  }
  if (req.method === 'POST') {
    if ((req.contentType ?? '').split(';')[0]!.trim().toLowerCase() !== DOH_MEDIA_TYPE || req.body === null) return json(415, { error: `Content-Type must be ${DOH_MEDIA_TYPE}` });
    return req.body;
  }
  return json(405, { error: 'GET or POST' }, { allow: 'GET, POST' });
}

export async function answerDoh(deps: DohDeps, req: DohRequest): Promise<DohReply> {
  const query = queryOf(req);
  if (!Buffer.isBuffer(query)) return query;
  const address = req.socket.remoteAddress ?? '';
  const port = req.socket.remotePort ?? 0;
  const source = formatSource(address, port);
  if (req.authorization !== undefined || req.socket.authorized) {
    try {
      // The device API's checks (throttle, bans, revocation) and their events.
      const shim = { headers: { authorization: req.authorization }, socket: req.socket, method: req.method, url: req.url } as unknown as FastifyRequest;
      const ctx = await deps.auth.contextOf(shim);
      deps.directory.learn(source, ctx.principal.id, ctx.principal.segment);
    } catch (err) {
      const e = toHttpError(err);
      return json(e.status, e.body, e.retryAfter !== undefined ? { 'retry-after': String(e.retryAfter) } : {});
    }
  } else if (deps.directory.lookup(address).segment === null) {
    deps.events.record('dns.doh_unauthenticated', 'warning', { source });
    return json(401, { error: 'device credentials required for DNS over HTTPS from an unknown address', code: 'PAL_ERR_AUTH_NO_CREDENTIALS' });
  }
  const response = await deps.engine.handle(query, { address, port }, 'doh');
  if (response === null) {
    // Unreadable, or over the per-client response rate: HTTP's own words for both.
    return query.length < 12 ? json(400, { error: 'not a DNS message' }) : json(429, { error: 'too many DNS queries' }, { 'retry-after': '1' });
  }
  return { status: 200, headers: { 'content-type': DOH_MEDIA_TYPE, 'cache-control': `max-age=${maxAge(response)}` }, body: response };
}

/** The HTTP/1.1 side, as a route group of the HTTPS app. */
export function dohRoutes(deps: DohDeps): RouteGroup {
  const plugin: FastifyPluginAsync = (app) => {
    app.addContentTypeParser(DOH_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: DOH_MAX_MESSAGE }, (_req, body, done) => done(null, body));
    const handler = async (req: FastifyRequest, reply: import('fastify').FastifyReply): Promise<void> => {
      const r = await answerDoh(deps, {
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        socket: req.socket as TLSSocket,
        body: Buffer.isBuffer(req.body) ? req.body : null,
      });
      await reply.code(r.status).headers(r.headers).send(r.body);
    };
    app.get(DOH_PATH, handler);
    app.post(DOH_PATH, handler);
    return Promise.resolve();
  };
  return plugin;
}
