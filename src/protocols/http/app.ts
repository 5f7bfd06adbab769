/**
 * The HTTP application of the HTTPS listener (DESIGN.md §2 protocols/http: one server, several
 * route groups). A fastify app is served on the listener's own https server through
 * `serverFactory`, so the same port keeps MQTT-over-WebSocket upgrades (handled by the listener
 * before fastify sees anything) and the TLS client-certificate settings of that server.
 *
 * Route groups (PKI files, admin API, device API, EST) are plain fastify plugins handed in as a
 * list; each registers in its own encapsulated context, so a group's content-type parsers,
 * hooks and body limits stay its own. Errors leave as JSON `{ error, code }` (errors.ts).
 */
import type { Server as HttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import { toHttpError } from './errors.ts';
import { serveOpenApi } from './openapi.ts';
import { formatSource } from '../../core/policy/cidr.ts';

/** One route group; register it with `{ plugin, prefix }` to mount it under a path. */
export type RouteGroup = FastifyPluginAsync | { plugin: FastifyPluginAsync; prefix?: string };

export interface HttpAppOptions {
  routes: readonly RouteGroup[];
  /** Default request body limit in bytes; a group may set its own per route. */
  bodyLimit: number;
  /** Version written into the OpenAPI document at /api/openapi.json. */
  version: string;
  /** Sees every 5xx (the client only sees "internal error"). */
  onServerError?: (err: unknown, req: FastifyRequest) => void;
  /** The shield's WAF on the request head: true refuses the request with 403 before routing. */
  blockRequest?: ((req: { method: string; url: string; headers: Record<string, string | string[] | undefined>; source: string }) => boolean) | null;
}

/** "ip:port" of the peer, the form the event log uses for `source`. */
export function sourceOf(req: FastifyRequest): string {
  return formatSource(req.socket.remoteAddress ?? 'unknown', req.socket.remotePort ?? 0);
}

/**
 * Builds the app on `server` and waits until every route group is registered. The caller owns
 * the server (listen, close); `app.close()` only runs the groups' onClose hooks.
 */
export async function mountHttpApp(server: HttpsServer, opts: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    serverFactory: (handler) => {
      server.on('request', handler);
      return server;
    },
    logger: false,
    bodyLimit: opts.bodyLimit,
    // Source addresses come from the socket, never from a header a client can set.
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 256 },
    // Unknown body fields are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.body.code === ErrorCodes.INTERNAL) opts.onServerError?.(err, req);
    if (e.retryAfter !== undefined) void reply.header('retry-after', String(e.retryAfter));
    return reply.code(e.status).type('application/json').send(e.body);
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('application/json').send({ error: 'not found', code: ErrorCodes.NOT_FOUND }));

  const blockRequest = opts.blockRequest;
  if (blockRequest) {
    app.addHook('onRequest', (req, _reply, done) => {
      const blocked = blockRequest({ method: req.method, url: req.url, headers: req.headers, source: sourceOf(req) });
      done(blocked ? new PalisadeError(ErrorCodes.PAYLOAD_BLOCKED, 'blocked by the WAF') : undefined);
    });
  }

  // Before the groups, so the document sees every route they add.
  serveOpenApi(app, { title: 'Palisade HTTP API', version: opts.version });
  for (const group of opts.routes) {
    if (typeof group === 'function') await app.register(group);
    else await app.register(group.plugin, group.prefix === undefined ? {} : { prefix: group.prefix });
  }
  await app.ready();
  return app;
}
