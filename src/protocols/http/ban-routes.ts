/**
 * The ban list over the admin API (issue 5, point 1). Reading needs `devices:read`, changing it
 * `devices:write` (viewers see bans, operators and admins set them), and every change is audited
 * as `admin.ban_added` / `admin.ban_removed` with the operator and source.
 *
 *   GET    /api/v1/bans                 active bans                                  200 { bans }
 *   POST   /api/v1/bans                 { kind, value, reason?, forSeconds? | expiresAt? }  201 { ban }
 *   DELETE /api/v1/bans/:id                                                          204 | 404
 */
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { OperatorService } from '../../core/operators/index.ts';
import type { BanKind, BanList } from '../../shield/bans/types.ts';
import { authErrors, errorSchema } from './admin-schemas.ts';
import { authOf, ctxOf, guard } from './admin-guard.ts';
import type { RouteGroup } from './app.ts';

const bearer = [{ bearer: [] }];
const banSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['address', 'client-id', 'username', 'certificate'] },
    value: { type: 'string', description: 'Address or CIDR (IPv4/IPv6), client id, username, or certificate serial / SHA-256 fingerprint (hex)' },
    reason: { type: 'string' },
    expiresAt: { type: ['integer', 'null'], description: 'Epoch ms; null: permanent' },
    by: { type: 'string' },
    createdAt: { type: 'integer' },
  },
} as const;

interface AddBody {
  kind: BanKind;
  value: string;
  reason?: string;
  forSeconds?: number;
  expiresAt?: number | null;
}

export function banRoutes(deps: { bans: BanList; service: OperatorService }): RouteGroup {
  const { bans, service } = deps;
  const accounts = service.accounts;
  const plugin: FastifyPluginAsync = (app) => {
    app.get('/api/v1/bans', {
      preHandler: guard(service, 'devices:read', 'bans_list'),
      schema: { summary: 'List active bans', tags: ['bans'], security: bearer, 'x-scope': 'devices:read', response: { 200: { type: 'object', properties: { bans: { type: 'array', items: banSchema } } }, ...authErrors } },
    }, (req) => {
      const list = bans.list();
      accounts.audit(authOf(req), ctxOf(req), 'bans_listed', '*', { count: list.length });
      return Promise.resolve({ bans: list });
    });

    app.post<{ Body: AddBody }>('/api/v1/bans', {
      preHandler: guard(service, 'devices:write', 'ban_add'),
      schema: {
        summary: 'Ban an address or CIDR block, a client id, a username or a certificate',
        description: 'Takes effect at once on this gateway and within about a second on others sharing the store. Address bans refuse connections at accept, before TLS; client id and username bans at CONNECT before the password is checked (MQTT 5 CONNACK 0x8A); certificate bans when the TLS handshake completes. Give forSeconds or expiresAt; neither: permanent.',
        tags: ['bans'],
        security: bearer,
        'x-scope': 'devices:write',
        body: {
          type: 'object',
          required: ['kind', 'value'],
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['address', 'client-id', 'username', 'certificate'] },
            value: { type: 'string', minLength: 1, maxLength: 256 },
            reason: { type: 'string', maxLength: 512 },
            forSeconds: { type: 'integer', minimum: 1 },
            expiresAt: { type: ['integer', 'null'] },
          },
        },
        response: { 201: { type: 'object', properties: { ban: banSchema } }, 400: errorSchema, ...authErrors },
      },
    }, async (req, reply) => {
      const b = req.body;
      if (b.forSeconds !== undefined && b.expiresAt !== undefined && b.expiresAt !== null) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'give forSeconds or expiresAt, not both');
      const expiresAt = b.forSeconds !== undefined ? Date.now() + b.forSeconds * 1000 : (b.expiresAt ?? null);
      const auth = authOf(req);
      const ban = await bans.add({ kind: b.kind, value: b.value, reason: b.reason ?? '', expiresAt, by: `operator:${auth.operator.username}` });
      accounts.audit(auth, ctxOf(req), 'ban_added', String(ban.id), { kind: ban.kind, value: ban.value, reason: ban.reason, expiresAt: ban.expiresAt });
      return reply.code(201).send({ ban });
    });

    app.delete<{ Params: { id: number } }>('/api/v1/bans/:id', {
      preHandler: guard(service, 'devices:write', 'ban_remove'),
      schema: { summary: 'Lift a ban', tags: ['bans'], security: bearer, 'x-scope': 'devices:write', params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } }, response: { 204: { type: 'null' }, 404: errorSchema, ...authErrors } },
    }, async (req, reply) => {
      const removed = await bans.remove(req.params.id);
      if (!removed) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no ban with id ${req.params.id}`);
      accounts.audit(authOf(req), ctxOf(req), 'ban_removed', String(req.params.id));
      return reply.code(204).send();
    });
    return Promise.resolve();
  };
  return plugin;
}
