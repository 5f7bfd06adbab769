/**
 * Device shadows over HTTPS (issue 4, point 5), two route groups:
 * - devices: `GET|POST /api/v1/shadows/<device>` behind the device guard; ShadowService decides
 *   `shadow:get|update` on the device id (segment-default: a device owns its own shadow);
 * - operators (admin API): `GET|POST /api/v1/devices/<id>/shadow`, scopes devices:read and
 *   devices:write, each call an `admin.shadow_*` event.
 * POST takes `{ state: { desired?, reported? }, version?, clientToken? }` and answers with the
 * accepted document (200), 409 on a stale version, 413 over shadows.maxBytes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { EventLog } from '../../core/events/event-log.ts';
import { principalOf, type OperatorService } from '../../core/operators/index.ts';
import type { ShadowCaller, ShadowService } from '../../core/shadows/service.ts';
import { authOf, ctxOf, guard } from './admin-guard.ts';
import type { RouteGroup } from './app.ts';
import type { DeviceAuth } from './device-auth.ts';
import { deviceRequest, installDeviceGuard } from './device-guard.ts';

const errorBody = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' } } } as const;
const deviceParam = { type: 'object', required: ['device'], properties: { device: { type: 'string', maxLength: 128 } } } as const;
const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 128 } } } as const;
const updateBody = {
  type: 'object',
  required: ['state'],
  additionalProperties: false,
  properties: {
    state: { type: 'object', additionalProperties: false, properties: { desired: { type: ['object', 'null'] }, reported: { type: ['object', 'null'] } } },
    version: { type: 'integer', minimum: 0 },
    clientToken: { type: 'string', maxLength: 64 },
  },
} as const;
const doc = { type: 'object', additionalProperties: true } as const;

export function deviceShadowRoutes(deps: { shadows: ShadowService; auth: DeviceAuth; events: Pick<EventLog, 'record'>; bodyLimit: number }): RouteGroup {
  const { shadows } = deps;
  const callerOf = (req: Parameters<typeof deviceRequest>[0]): ShadowCaller => {
    const { ctx } = deviceRequest(req);
    return { principal: ctx.principal.id, source: ctx.source, policy: ctx.policy };
  };
  const plugin: FastifyPluginAsync = (app) => {
    installDeviceGuard(app, { auth: deps.auth, events: deps.events, bodyLimit: deps.bodyLimit });
    app.get<{ Params: { device: string } }>('/api/v1/shadows/:device', {
      schema: { summary: 'Read a device shadow (device API)', description: 'desired, reported, delta, metadata, version. shadow:get on the device id.', tags: ['shadows'], params: deviceParam, response: { 200: doc, 403: errorBody, 404: errorBody } },
    }, async (req) => shadows.get(callerOf(req), req.params.device));
    app.post<{ Params: { device: string }; Body: unknown }>('/api/v1/shadows/:device', {
      bodyLimit: deps.bodyLimit,
      schema: { summary: 'Update a device shadow (device API)', description: 'shadow:update on the device id; 409 on a stale version.', tags: ['shadows'], params: deviceParam, body: updateBody, response: { 200: doc, 403: errorBody, 409: errorBody, 413: errorBody } },
    }, async (req) => (await shadows.update(callerOf(req), req.params.device, req.body)).accepted);
    return Promise.resolve();
  };
  return plugin;
}

export function adminShadowRoutes(deps: { shadows: ShadowService; service: OperatorService; events: Pick<EventLog, 'record'> }): RouteGroup {
  const { shadows, service, events } = deps;
  const bearer = [{ bearer: [] }];
  const plugin: FastifyPluginAsync = (app) => {
    app.get<{ Params: { id: string } }>('/api/v1/devices/:id/shadow', {
      preHandler: guard(service, 'devices:read', 'shadow_get'),
      schema: { summary: 'Read a device shadow', tags: ['shadows'], security: bearer, 'x-scope': 'devices:read', params: idParam, response: { 200: doc, 404: errorBody } },
    }, async (req) => shadows.get({ principal: principalOf(authOf(req).operator.username), source: ctxOf(req).source, policy: null }, req.params.id));
    app.post<{ Params: { id: string }; Body: unknown }>('/api/v1/devices/:id/shadow', {
      preHandler: guard(service, 'devices:write', 'shadow_update'),
      schema: { summary: 'Update a device shadow (usually desired)', tags: ['shadows'], security: bearer, 'x-scope': 'devices:write', params: idParam, body: updateBody, response: { 200: doc, 409: errorBody, 413: errorBody } },
    }, async (req) => {
      const principal = principalOf(authOf(req).operator.username);
      const source = ctxOf(req).source;
      const r = await shadows.update({ principal, source, policy: null }, req.params.id, req.body);
      events.record('admin.shadow_update', 'info', { principal, source, detail: { deviceId: req.params.id, version: r.accepted.version } });
      return r.accepted;
    });
    return Promise.resolve();
  };
  return plugin;
}
