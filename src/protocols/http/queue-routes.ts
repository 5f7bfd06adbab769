/**
 * Push-pull queues over HTTPS (issue 4, point 4), for devices: push, long-poll pull, ack and
 * nack. The device guard (device-guard.ts) authenticates and decides `http:<method>` on the
 * path before any body is read; QueueService then decides `queue:push|pull|ack` on the name.
 *
 *   POST /api/v1/queues/<name>            body = payload (any type)        201 { id }
 *   GET  /api/v1/queues/<name>?wait=20    long poll                        200 message | 204
 *   POST /api/v1/queues/<name>/ack        { receipt }                      204 | 404 lease gone
 *   POST /api/v1/queues/<name>/nack       { receipt, delayMs? }            204 | 404
 * A full queue answers 503 with Retry-After (QUEUE_FULL).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { QueueCaller, QueueService } from '../../core/queues/service.ts';
import type { RouteGroup } from './app.ts';
import type { DeviceAuth } from './device-auth.ts';
import { deviceRequest, installDeviceGuard } from './device-guard.ts';

export interface QueueRoutesDeps {
  queues: QueueService;
  auth: DeviceAuth;
  events: Pick<EventLog, 'record'>;
  /** Largest message body, bytes. */
  bodyLimit: number;
}

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } } } as const;
const errorBody = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' } } } as const;
const message = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    receipt: { type: 'string', description: 'Acks or nacks this delivery, and no later one' },
    deliveries: { type: 'integer' },
    enqueuedAt: { type: 'integer' },
    visibleUntil: { type: 'integer', description: 'Epoch ms when the message is redelivered unless acked' },
    contentType: { type: 'string' },
    payload: { type: 'string', description: 'base64' },
  },
} as const;

function callerOf(req: FastifyRequest): QueueCaller {
  const { ctx } = deviceRequest(req);
  return { principal: ctx.principal.id, source: ctx.source, policy: ctx.policy };
}

function receiptOf(body: unknown): { receipt: string; delayMs: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '') as unknown;
  } catch {
    parsed = null;
  }
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { receipt?: unknown; delayMs?: unknown };
  if (typeof o.receipt !== 'string' || o.receipt.length === 0 || o.receipt.length > 128) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'body must be JSON { "receipt": "..." }');
  const delayMs = o.delayMs === undefined ? 0 : o.delayMs;
  if (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'delayMs must be a non-negative integer');
  return { receipt: o.receipt, delayMs };
}

export function queueRoutes(deps: QueueRoutesDeps): RouteGroup {
  const { queues } = deps;
  const plugin: FastifyPluginAsync = (app) => {
    // Payloads are bytes whatever their type; ack/nack bodies are parsed here as JSON.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));
    installDeviceGuard(app, { auth: deps.auth, events: deps.events, bodyLimit: deps.bodyLimit });

    app.post<{ Params: { name: string } }>('/api/v1/queues/:name', {
      bodyLimit: deps.bodyLimit,
      schema: { summary: 'Push a message into a queue (device API)', description: 'Answers once stored. queue:push on the name.', tags: ['queues'], params: nameParam, response: { 201: { type: 'object', properties: { id: { type: 'integer' } } }, 403: errorBody, 503: errorBody } },
    }, async (req, reply) => {
      const payload = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const contentType = req.headers['content-type'];
      const id = await queues.push(callerOf(req), req.params.name, payload, contentType === undefined ? {} : { contentType });
      return reply.code(201).send({ id });
    });

    app.get<{ Params: { name: string }; Querystring: { wait?: number } }>('/api/v1/queues/:name', {
      schema: { summary: 'Pull the next message (long poll)', description: 'Leases one message for the visibility timeout; 204 when none came within `wait` seconds. queue:pull on the name.', tags: ['queues'], params: nameParam, querystring: { type: 'object', properties: { wait: { type: 'integer', minimum: 0, maximum: 300 } } }, response: { 200: message, 204: { type: 'null' }, 403: errorBody } },
    }, async (req, reply) => {
      // A client that hangs up ends its poll; a message leased meanwhile is handed back.
      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort());
      const m = await queues.pull(callerOf(req), req.params.name, { waitMs: queues.maxWaitMs(req.query.wait ?? 0), signal: abort.signal });
      if (!m) return reply.code(204).send();
      if (abort.signal.aborted) {
        await queues.release(req.params.name, m.receipt).catch(() => undefined);
        return reply;
      }
      return { id: m.id, receipt: m.receipt, deliveries: m.deliveries, enqueuedAt: m.enqueuedAt, visibleUntil: m.visibleAt, ...(m.properties.contentType === undefined ? {} : { contentType: m.properties.contentType }), payload: m.payload.toString('base64') };
    });

    for (const verb of ['ack', 'nack'] as const) {
      app.post<{ Params: { name: string } }>(`/api/v1/queues/:name/${verb}`, {
        bodyLimit: 1024,
        schema: { summary: verb === 'ack' ? 'Acknowledge (delete) a pulled message' : 'Hand a pulled message back (visible again, optionally after delayMs)', tags: ['queues'], params: nameParam, response: { 204: { type: 'null' }, 404: errorBody } },
      }, async (req, reply) => {
        const { receipt, delayMs } = receiptOf(req.body);
        if (verb === 'ack') await queues.ack(callerOf(req), req.params.name, receipt);
        else await queues.nack(callerOf(req), req.params.name, receipt, delayMs);
        return reply.code(204).send();
      });
    }
    return Promise.resolve();
  };
  return plugin;
}
