/**
 * The HTTPS device API (issue 4 point 1), a route group of the HTTPS listener (app.ts):
 *
 * - POST /api/v1/publish/<topic>   body = payload (any content type, at most `bodyLimit` bytes,
 *   never buffered past it); `?retain=true`, `?qos=0|1`. Answers 200 only once the message is
 *   routed and stored (QoS 1 semantics: the broker's write-behind has flushed).
 * - GET  /api/v1/retained/<topic>  the retained payload with its content type; 404 when none.
 * - GET  /api/v1/subscribe?filter=<filter> or /api/v1/subscribe/<filter>   Server-Sent Events
 *   (device-sse.ts). In a query string `+` means space (WHATWG URL), so send it as %2B there;
 *   in the path form `+` is literal. `#` is %23 in both.
 *
 * Every request is authenticated as a device (device-auth.ts) before its body is read, then
 * authorised twice on the one pipeline: `http:<method>` on the request path (the transport, so
 * an operator can deny HTTP per segment), and the messaging action on the topic through
 * DeviceMessaging (`mqtt:publish`, `mqtt:subscribe`, `mqtt:receive`), the same decision an MQTT
 * client gets. Refusals: 401, 403 (the deciding rule goes to the event, not the body), 400, 413,
 * 429 with Retry-After; each is a security event.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import { Actions } from '../../core/policy/actions.ts';
import type { RouteGroup } from './app.ts';
import { errorSchema } from './admin-schemas.ts';
import type { DeviceAuth } from './device-auth.ts';
import { deviceRequest, installDeviceGuard } from './device-guard.ts';
import { serveEventStream } from './device-sse.ts';

export interface DeviceRoutesDeps {
  messaging: DeviceMessaging;
  auth: DeviceAuth;
  events: Pick<EventLog, 'record'>;
  /** Largest publish body, bytes (the MQTT maximum packet size by default). */
  bodyLimit: number;
  /** Interval of SSE comment heartbeats. */
  heartbeatMs?: number;
  /** An SSE client that does not read for this long is disconnected (mqtt.drainTimeoutMs). */
  drainTimeoutMs?: number;
}

const PREFIX = '/api/v1/';
const security = [{ deviceCertificate: [] }, { deviceBasic: [] }, { bearer: [] }] as const;
const refusals = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 429: errorSchema } as const;
const topicParam = { type: 'object', properties: { '*': { type: 'string', description: 'the topic (or filter), URL-encoded; `/` separates levels' } } } as const;

/** The topic after `/api/v1/<route>/`, URL-decoded. */
function topicAfter(path: string, route: string): string {
  return path.slice(PREFIX.length + route.length + 1);
}

export function deviceApiRoutes(deps: DeviceRoutesDeps): RouteGroup {
  const { messaging, auth, events } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const drainTimeoutMs = deps.drainTimeoutMs ?? 10_000;

  const plugin: FastifyPluginAsync = (app) => {
    // A payload is bytes whatever its content type; the only parser here hands them over as
    // they are, and stops reading at the limit (fastify counts while streaming).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));

    // Authentication, the transport decision and the declared size, before the body is read.
    installDeviceGuard(app, { auth, events, bodyLimit: deps.bodyLimit });

    app.post<{ Querystring: { retain?: boolean; qos?: 0 | 1 } }>(
      '/api/v1/publish/*',
      {
        bodyLimit: deps.bodyLimit,
        schema: {
          summary: 'Publish a message (device API)',
          description: 'The body is the payload, any content type (kept as the message content type). Answers once the message is stored (QoS 1 semantics). Authorised as mqtt:publish on the topic and http:post on the path.',
          tags: ['device'],
          security,
          params: topicParam,
          querystring: { type: 'object', properties: { retain: { type: 'boolean', default: false }, qos: { type: 'integer', enum: [0, 1], default: 1 } }, additionalProperties: false },
          response: { 200: { type: 'object', required: ['topic', 'qos', 'retain', 'bytes'], properties: { topic: { type: 'string' }, qos: { type: 'integer' }, retain: { type: 'boolean' }, bytes: { type: 'integer' } } }, ...refusals, 413: errorSchema },
        },
      },
      async (req) => {
        const { ctx, path } = deviceRequest(req);
        const topic = topicAfter(path, 'publish');
        const payload = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const qos = req.query.qos ?? 1;
        const retain = req.query.retain ?? false;
        const contentType = req.headers['content-type'];
        await messaging.publish(ctx, topic, payload, { qos, retain, ...(contentType === undefined ? {} : { properties: { contentType } }) });
        return { topic, qos, retain, bytes: payload.length };
      },
    );

    app.get(
      '/api/v1/retained/*',
      {
        schema: {
          summary: 'Read the retained message of a topic (device API)',
          description: 'The payload as stored, with its content type (application/octet-stream when none). Authorised as mqtt:subscribe and mqtt:receive on the topic and http:get on the path.',
          tags: ['device'],
          security,
          params: topicParam,
          response: { ...refusals, 404: errorSchema },
        },
      },
      async (req, reply: FastifyReply) => {
        const { ctx, path } = deviceRequest(req);
        const topic = topicAfter(path, 'retained');
        const r = messaging.readRetained(ctx, topic);
        if (r === null) throw new PalisadeError(ErrorCodes.NOT_FOUND, 'no retained message on this topic');
        void reply.header('last-modified', new Date(r.storedAt).toUTCString());
        return reply.type(r.properties.contentType ?? 'application/octet-stream').send(r.payload);
      },
    );

    const subscribeSchema = (form: 'query' | 'path') => ({
      summary: `Subscribe by Server-Sent Events (device API, filter in the ${form})`,
      description: 'text/event-stream: one `message` event per message, data = JSON {topic, payload, encoding: utf8|base64, retain, qos, contentType?}; comment heartbeats; an `end` event {reason} when the gateway ends the stream (permission withdrawn, certificate revoked, device moved). Authorised as mqtt:subscribe on the filter, mqtt:receive on each message and http:get on the path.',
      tags: ['device'],
      security,
      ...(form === 'query' ? { querystring: { type: 'object', required: ['filter'], properties: { filter: { type: 'string', minLength: 1 } } } } : { params: topicParam }),
      response: { ...refusals },
    });
    const stream = (req: FastifyRequest, reply: FastifyReply, filter: string): void => {
      const { ctx, path } = deviceRequest(req);
      const onSlowConsumer = (): void => events.record('http.slow_consumer', 'warning', { principal: ctx.principal.id, source: ctx.source, detail: { filter, drainTimeoutMs } });
      serveEventStream(reply, messaging, ctx, filter, { heartbeatMs, drainTimeoutMs, onSlowConsumer, alsoRequires: [{ action: Actions.httpGet, resource: path }] });
    };
    app.get<{ Querystring: { filter: string } }>('/api/v1/subscribe', { schema: subscribeSchema('query') }, async (req, reply) => {
      stream(req, reply, req.query.filter);
      return reply;
    });
    app.get('/api/v1/subscribe/*', { schema: subscribeSchema('path') }, async (req, reply) => {
      stream(req, reply, topicAfter(deviceRequest(req).path, 'subscribe'));
      return reply;
    });
    return Promise.resolve();
  };
  return plugin;
}
