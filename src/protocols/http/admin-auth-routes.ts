/**
 * Admin API, accounts half (issue 3, point 5): first-admin setup with the one-time secret,
 * TOTP enrolment, login/logout, and the caller's own API tokens. A fastify route group.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { EventLog } from '../../core/events/event-log.ts';
import { viewOf, type OperatorService } from '../../core/operators/index.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import { authErrors, body, enrolmentSchema, errorSchema, operatorSchema, params, query, tokenSchema } from './admin-schemas.ts';
import { authOf, ctxOf, guard, throttled } from './admin-guard.ts';

export interface AdminAuthRoutesDeps {
  service: OperatorService;
  throttle: AuthThrottle;
  events: Pick<EventLog, 'record'>;
}

interface Credentials {
  username: string;
  password: string;
  totp?: string;
}

const bearer = [{ bearer: [] }];

export function adminAuthRoutes(deps: AdminAuthRoutesDeps): FastifyPluginAsync {
  const { service, throttle, events } = deps;
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits the plugin
  return async (app) => {
    app.post<{ Body: { token: string; username: string; password: string } }>('/api/v1/setup', {
      schema: {
        summary: 'Create the first admin with the one-time setup secret printed at first start',
        description: 'Works once. Returns a TOTP enrolment; the admin can log in after confirming it at /api/v1/auth/enroll/confirm.',
        tags: ['auth'],
        body: body.setup,
        response: { 201: { type: 'object', properties: { operator: operatorSchema, enrolment: enrolmentSchema } }, 401: errorSchema, 403: errorSchema },
      },
    }, async (req, reply) => {
      const out = await throttled(throttle, events, req, null, 'setup', () => service.auth.setup({ secret: req.body.token, username: req.body.username, password: req.body.password }, ctxOf(req)));
      return reply.code(201).send(out);
    });

    app.post<{ Body: Credentials }>('/api/v1/auth/enroll', {
      schema: { summary: 'Start TOTP enrolment (accounts without active MFA)', tags: ['auth'], body: body.enroll, response: { 200: enrolmentSchema, ...authErrors } },
    }, async (req) => throttled(throttle, events, req, req.body.username, 'enroll', () => service.auth.startEnrolment(req.body, ctxOf(req))));

    app.post<{ Body: Required<Credentials> }>('/api/v1/auth/enroll/confirm', {
      schema: { summary: 'Confirm TOTP enrolment with a current code', tags: ['auth'], body: body.enrollConfirm, response: { 200: { type: 'object', properties: { operator: operatorSchema } }, ...authErrors } },
    }, async (req) => ({ operator: await throttled(throttle, events, req, req.body.username, 'enroll_confirm', () => service.auth.confirmEnrolment(req.body, ctxOf(req))) }));

    app.post<{ Body: Credentials }>('/api/v1/auth/login', {
      schema: {
        summary: 'Log in: password and TOTP (admin and operator always; viewer once enrolled)',
        tags: ['auth'],
        body: body.login,
        response: { 200: { type: 'object', properties: { token: { type: 'string' }, tokenId: { type: 'string' }, expiresAt: { type: 'integer' }, operator: operatorSchema } }, 401: errorSchema, 403: errorSchema, 429: errorSchema },
      },
    }, async (req) => {
      const s = await throttled(throttle, events, req, req.body.username, 'login', () => service.auth.login(req.body, ctxOf(req)));
      return { token: s.token, tokenId: s.id, expiresAt: s.expiresAt, operator: s.operator };
    });

    app.post('/api/v1/auth/logout', {
      preHandler: guard(service, null, 'logout'),
      schema: { summary: 'End this session (or revoke this API token)', tags: ['auth'], security: bearer, response: { 204: { type: 'null' }, ...authErrors } },
    }, async (req, reply) => {
      await service.accounts.logout(authOf(req), ctxOf(req));
      return reply.code(204).send();
    });

    app.get('/api/v1/auth/me', {
      preHandler: guard(service, null, 'me'),
      schema: { summary: 'Who the bearer is and what it may do', tags: ['auth'], security: bearer, response: { 200: { type: 'object', properties: { operator: operatorSchema, via: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } } }, ...authErrors } },
    }, (req, reply) => {
      const auth = authOf(req);
      return reply.send({ operator: viewOf(auth.operator), via: auth.token.kind, scopes: [...auth.scopes] });
    });

    app.get<{ Querystring: { all?: boolean } }>('/api/v1/tokens', {
      preHandler: guard(service, null, 'tokens_list'),
      schema: { summary: 'List your tokens (all operators\' with ?all=true and operators:admin)', tags: ['tokens'], security: bearer, querystring: query.tokens, response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenSchema } } }, ...authErrors } },
    }, async (req) => ({ tokens: await service.accounts.listTokens(authOf(req), req.query.all === true, ctxOf(req)) }));

    app.post<{ Body: { name: string; scopes: string[]; expiresInSeconds: number } }>('/api/v1/tokens', {
      preHandler: guard(service, null, 'token_create'),
      schema: {
        summary: 'Create an API token (from a login session); scopes never exceed your role; the token is shown once',
        tags: ['tokens'],
        security: bearer,
        body: body.createToken,
        response: { 201: { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, expiresAt: { type: 'integer' } } }, ...authErrors },
      },
    }, async (req, reply) => {
      const t = await service.accounts.createToken(authOf(req), req.body, ctxOf(req));
      return reply.code(201).send({ id: t.id, token: t.token, scopes: t.scopes, expiresAt: t.expiresAt });
    });

    app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', {
      preHandler: guard(service, null, 'token_revoke'),
      schema: { summary: 'Revoke a token (yours, or anyone\'s with operators:admin)', tags: ['tokens'], security: bearer, params: params.tokenId, response: { 204: { type: 'null' }, ...authErrors, 404: errorSchema } },
    }, async (req, reply) => {
      await service.accounts.revokeToken(authOf(req), req.params.id, ctxOf(req));
      return reply.code(204).send();
    });
  };
}
