/**
 * Admin API, fleet and accounts half (issue 3, point 5): operators (admins only), devices,
 * certificate revocation and the event log, each route behind one scope. Every action lands
 * in the event log as `admin.<action>` with the operator, the target and the source ip:port.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import { normalizeSerial } from '../../core/fleet/register-device.ts';
import type { OperatorRole, OperatorService, OperatorStatus } from '../../core/operators/index.ts';
import type { Store } from '../../core/ports.ts';
import { authErrors, body, deviceSchema, errorSchema, eventSchema, operatorSchema, params, query } from './admin-schemas.ts';
import { authOf, ctxOf, guard } from './admin-guard.ts';

export interface AdminRoutesDeps {
  service: OperatorService;
  store: Pick<Store, 'devices' | 'certificates' | 'events'>;
  /** Runs after a revocation is stored so live sessions close now, not at the watcher's next poll. */
  afterRevoke?: () => Promise<void>;
}

const bearer = [{ bearer: [] }];
const opResponse = { type: 'object', properties: { operator: operatorSchema } } as const;

export function adminRoutes(deps: AdminRoutesDeps): FastifyPluginAsync {
  const { service, store } = deps;
  const accounts = service.accounts;
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits the plugin
  return async (app) => {
    // --- operators --------------------------------------------------------------------------
    app.get('/api/v1/operators', {
      preHandler: guard(service, 'operators:admin', 'operators_list'),
      schema: { summary: 'List operators', tags: ['operators'], security: bearer, 'x-scope': 'operators:admin', response: { 200: { type: 'object', properties: { operators: { type: 'array', items: operatorSchema } } }, ...authErrors } },
    }, async (req) => ({ operators: await accounts.listOperators(authOf(req), ctxOf(req)) }));

    app.post<{ Body: { username: string; password: string; role: OperatorRole } }>('/api/v1/operators', {
      preHandler: guard(service, 'operators:admin', 'operator_create'),
      schema: { summary: 'Create an operator; admins and operators enrol TOTP before their first login', tags: ['operators'], security: bearer, 'x-scope': 'operators:admin', body: body.createOperator, response: { 201: opResponse, ...authErrors, 409: errorSchema } },
    }, async (req, reply) => reply.code(201).send({ operator: await accounts.createOperator(authOf(req), req.body, ctxOf(req)) }));

    app.patch<{ Params: { username: string }; Body: { role?: OperatorRole; status?: OperatorStatus; password?: string } }>('/api/v1/operators/:username', {
      preHandler: guard(service, 'operators:admin', 'operator_update'),
      schema: { summary: 'Change role, status or password (a role change to admin or operator needs MFA enrolled)', tags: ['operators'], security: bearer, 'x-scope': 'operators:admin', params: params.username, body: body.updateOperator, response: { 200: opResponse, ...authErrors, 404: errorSchema } },
    }, async (req) => ({ operator: await accounts.updateOperator(authOf(req), req.params.username, req.body, ctxOf(req)) }));

    app.delete<{ Params: { username: string } }>('/api/v1/operators/:username', {
      preHandler: guard(service, 'operators:admin', 'operator_delete'),
      schema: { summary: 'Delete an operator and their tokens', tags: ['operators'], security: bearer, 'x-scope': 'operators:admin', params: params.username, response: { 204: { type: 'null' }, ...authErrors, 404: errorSchema } },
    }, async (req, reply) => {
      await accounts.deleteOperator(authOf(req), req.params.username, ctxOf(req));
      return reply.code(204).send();
    });

    app.delete<{ Params: { username: string } }>('/api/v1/operators/:username/mfa', {
      preHandler: guard(service, 'operators:admin', 'mfa_disable'),
      schema: { summary: 'Turn MFA off (viewers only; refused for admin and operator)', tags: ['operators'], security: bearer, 'x-scope': 'operators:admin', params: params.username, response: { 200: opResponse, ...authErrors, 404: errorSchema } },
    }, async (req) => ({ operator: await accounts.disableMfa(authOf(req), req.params.username, ctxOf(req)) }));

    // --- fleet ------------------------------------------------------------------------------
    app.get('/api/v1/devices', {
      preHandler: guard(service, 'devices:read', 'devices_list'),
      schema: { summary: 'List devices', tags: ['devices'], security: bearer, 'x-scope': 'devices:read', response: { 200: { type: 'object', properties: { devices: { type: 'array', items: deviceSchema } } }, ...authErrors } },
    }, async (req) => {
      const devices = await store.devices.list();
      accounts.audit(authOf(req), ctxOf(req), 'devices_listed', '*', { count: devices.length });
      return { devices: devices.map((d) => ({ id: d.id, segment: d.segment, status: d.status, attrs: d.attrs, authMethod: d.passwordHash ? 'password' : 'certificate', createdAt: d.createdAt })) };
    });

    app.post<{ Params: { serial: string }; Body: { reason?: string } | undefined }>('/api/v1/certs/:serial/revoke', {
      preHandler: guard(service, 'certs:write', 'cert_revoke'),
      schema: {
        summary: 'Revoke a certificate: it goes on the CRL and live sessions using it close within a second',
        tags: ['certs'],
        security: bearer,
        'x-scope': 'certs:write',
        params: params.serial,
        body: body.revoke,
        response: { 200: { type: 'object', properties: { serial: { type: 'string' }, deviceId: { type: ['string', 'null'] }, revoked: { type: 'boolean' }, alreadyRevoked: { type: 'boolean' } } }, ...authErrors, 404: errorSchema },
      },
    }, async (req) => {
      const auth = authOf(req);
      const serial = normalizeSerial(req.params.serial);
      const reason = req.body?.reason ?? 'unspecified';
      const record = await store.certificates.get(serial);
      if (!record) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no certificate with serial ${serial}`);
      if (record.kind === 'root-ca' || record.kind === 'issuing-ca') throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `certificate ${serial} is a CA certificate; rotate the CA instead`);
      const done = await store.certificates.revoke(serial, Date.now(), reason);
      accounts.audit(auth, ctxOf(req), 'cert_revoked', serial, { deviceId: record.deviceId, reason, alreadyRevoked: !done });
      if (done) await deps.afterRevoke?.();
      return { serial, deviceId: record.deviceId, revoked: true, alreadyRevoked: !done };
    });

    app.get<{ Querystring: { type?: string; sinceId?: number; limit?: number } }>('/api/v1/events', {
      preHandler: guard(service, 'events:read', 'events_list'),
      schema: { summary: 'Read the security event log', tags: ['events'], security: bearer, 'x-scope': 'events:read', querystring: query.events, response: { 200: { type: 'object', properties: { events: { type: 'array', items: eventSchema } } }, ...authErrors } },
    }, async (req) => {
      const q = req.query;
      const events = await store.events.list({ ...(q.type === undefined ? {} : { type: q.type }), ...(q.sinceId === undefined ? {} : { sinceId: q.sinceId }), limit: q.limit ?? 100 });
      accounts.audit(authOf(req), ctxOf(req), 'events_listed', q.type ?? '*', { count: events.length });
      return { events };
    });
  };
}
