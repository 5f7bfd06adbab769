/**
 * The pipeline every device API route group runs before its handlers (issue 4): authenticate
 * the device (device-auth.ts), decide `http:<method>` on the URL-decoded request path (so an
 * operator can deny HTTP per segment or device), and refuse a declared body over the limit, all
 * in onRequest, before any body byte is read. A chunked body growing past the limit is stopped by
 * fastify's parser and recorded here too. Each refusal is a security event; the deciding rule
 * goes to the event, never to the response.
 *
 * Use it from any device route group (publish/retained/subscribe, queues, shadows):
 *   installDeviceGuard(app, { auth, events, bodyLimit });  ...  const { ctx, path } = deviceRequest(req);
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { DeviceContext } from '../../core/messaging/device-messaging.ts';
import { Actions, type Action } from '../../core/policy/actions.ts';
import type { DeviceAuth } from './device-auth.ts';

export interface DeviceRequest {
  ctx: DeviceContext;
  /** The request path, URL-decoded (what `http:<method>` was decided on). */
  path: string;
}

export interface DeviceGuardOptions {
  auth: DeviceAuth;
  events: Pick<EventLog, 'record'>;
  /** Largest request body of the group, bytes. */
  bodyLimit: number;
}

const HTTP_ACTIONS: Readonly<Record<string, Action>> = {
  GET: Actions.httpGet,
  HEAD: Actions.httpHead,
  POST: Actions.httpPost,
  PUT: Actions.httpPut,
  PATCH: Actions.httpPatch,
  DELETE: Actions.httpDelete,
};

const requests = new WeakMap<FastifyRequest, DeviceRequest>();

function decodedPath(req: FastifyRequest): string {
  const raw = req.url.split('?', 1)[0] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'malformed percent-encoding in path');
  }
}

/** The device and decoded path of a request that passed the guard. */
export function deviceRequest(req: FastifyRequest): DeviceRequest {
  const r = requests.get(req);
  if (!r) throw new PalisadeError(ErrorCodes.INTERNAL, 'device route without the device guard');
  return r;
}

/** Installs the guard on `app` (an encapsulated route group: it applies to that group only). */
export function installDeviceGuard(app: FastifyInstance, opts: DeviceGuardOptions): void {
  const { auth, events, bodyLimit } = opts;
  app.addHook('onRequest', async (req) => {
    const ctx = await auth.contextOf(req);
    const path = decodedPath(req);
    const action = HTTP_ACTIONS[req.method];
    const decision = action === undefined ? { allowed: false, rule: 'unknown-method' } : ctx.policy.authorize(action, path, { source: ctx.source });
    if (!decision.allowed) {
      events.record('http.request_denied', 'warning', { principal: ctx.principal.id, source: ctx.source, detail: { method: req.method, path: path.slice(0, 256), rule: decision.rule } });
      throw new PalisadeError(ErrorCodes.POLICY_DENIED, 'not allowed by policy');
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > bodyLimit) {
      events.record('http.payload_too_large', 'warning', { principal: ctx.principal.id, source: ctx.source, detail: { path: path.slice(0, 256), size: length, limit: bodyLimit } });
      throw new PalisadeError(ErrorCodes.BODY_TOO_LARGE, 'request body larger than the limit', { detail: { limit: bodyLimit } });
    }
    requests.set(req, { ctx, path });
  });

  app.setErrorHandler((err, req) => {
    const r = requests.get(req);
    if ((err as { code?: unknown }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' && r) {
      events.record('http.payload_too_large', 'warning', { principal: r.ctx.principal.id, source: r.ctx.source, detail: { path: r.path.slice(0, 256), limit: bodyLimit } });
    }
    // The root handler (app.ts) shapes the body: message and code only.
    throw err;
  });
}
