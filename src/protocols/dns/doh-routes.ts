/**
 * DNS over HTTPS (RFC 8484) at /dns-query on the HTTPS listener (issue 6, point 5): the same
 * engine as UDP and TCP, so the same lists, segment policy, cache, rate limit and query log.
 *
 *   GET  /dns-query?dns=<base64url query>               RFC 8484 §4.1
 *   POST /dns-query  Content-Type: application/dns-message
 *
 * Who asks: a device that presents its credentials (client certificate or device token, as on
 * the device API) is known by them, and its address is learned for the directory; otherwise the
 * source address must already map to a device or a `dns.clients` block. Anyone else gets 401:
 * the HTTPS port usually faces the network, and an open resolver there would serve the world.
 */
import dnsPacket from 'dns-packet';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { DnsClientDirectory, DnsTransport } from '../../core/dns/types.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { DeviceAuth } from '../http/device-auth.ts';
import type { RouteGroup } from '../http/app.ts';

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

const MEDIA_TYPE = 'application/dns-message';
/** RFC 8484 §6: a DNS message over HTTP is at most 65535 bytes. */
const MAX_MESSAGE = 65_535;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function hasCredentials(req: FastifyRequest): boolean {
  if (req.headers.authorization !== undefined) return true;
  const socket = req.socket as { authorized?: boolean };
  return socket.authorized === true;
}

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

export function dohRoutes(deps: DohDeps): RouteGroup {
  const plugin: FastifyPluginAsync = (app) => {
    app.addContentTypeParser(MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: MAX_MESSAGE }, (_req, body, done) => done(null, body));

    const answer = async (req: FastifyRequest, reply: FastifyReply, query: Buffer): Promise<void> => {
      const address = req.socket.remoteAddress ?? '';
      const source = `${address.includes(':') ? `[${address}]` : address}:${req.socket.remotePort ?? 0}`;
      if (hasCredentials(req)) {
        // 401/403/429 from the device API's checks, with their events, on failure.
        const ctx = await deps.auth.contextOf(req);
        deps.directory.learn(source, ctx.principal.id, ctx.principal.segment);
      } else if (deps.directory.lookup(address).segment === null) {
        deps.events.record('dns.doh_unauthenticated', 'warning', { source });
        await reply.code(401).send({ error: 'device credentials required for DNS over HTTPS from an unknown address', code: 'PAL_ERR_AUTH_NO_CREDENTIALS' });
        return;
      }
      const response = await deps.engine.handle(query, { address, port: req.socket.remotePort ?? 0 }, 'doh');
      if (response === null) {
        // Unreadable, or over the per-client response rate: HTTP's own words for both.
        if (query.length < 12) {
          await reply.code(400).send({ error: 'not a DNS message' });
          return;
        }
        await reply.code(429).header('retry-after', '1').send({ error: 'too many DNS queries' });
        return;
      }
      await reply.code(200).type(MEDIA_TYPE).header('cache-control', `max-age=${maxAge(response)}`).send(response);
    };

    app.get('/dns-query', async (req, reply) => {
      const dns = (req.query as Record<string, unknown>).dns;
      if (typeof dns !== 'string' || dns.length === 0 || !BASE64URL.test(dns) || dns.length > Math.ceil((MAX_MESSAGE * 4) / 3)) {
        return reply.code(400).send({ error: 'the dns parameter must be a base64url DNS message (RFC 8484 §4.1)' });
      }
      return answer(req, reply, Buffer.from(dns, 'base64url'));
    });

    app.post('/dns-query', async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return reply.code(415).send({ error: `Content-Type must be ${MEDIA_TYPE}` });
      return answer(req, reply, req.body);
    });
    return Promise.resolve();
  };
  return plugin;
}
