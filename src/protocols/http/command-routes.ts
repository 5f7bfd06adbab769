/**
 * Commands over the admin API (issue 4, point 5): `POST /api/v1/devices/<id>/commands`
 * `{ name, payload?, timeoutMs? }` (scope devices:write) delivers the command to the device
 * over MQTT and waits for its reply: 200 with the reply, 504 when none came in time, 409 when the
 * device has no live session subscribed to its commands (not queued: see core/commands).
 * The payload is sent as given when it is a string, as JSON otherwise; the reply comes back as
 * text when it is UTF-8, else base64.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyPluginAsync } from 'fastify';
import type { CommandService } from '../../core/commands/service.ts';
import { principalOf, type OperatorService } from '../../core/operators/index.ts';
import { authOf, ctxOf, guard } from './admin-guard.ts';
import type { RouteGroup } from './app.ts';

const errorBody = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' } } } as const;

export function commandRoutes(deps: { commands: CommandService; service: OperatorService }): RouteGroup {
  const { commands, service } = deps;
  const plugin: FastifyPluginAsync = (app) => {
    app.post<{ Params: { id: string }; Body: { name: string; payload?: unknown; timeoutMs?: number } }>('/api/v1/devices/:id/commands', {
      preHandler: guard(service, 'devices:write', 'command'),
      schema: {
        summary: 'Send a command to a device and wait for its reply',
        description: 'MQTT 5 devices receive it on $command/<id>/<name> with a response topic and correlation data; 3.1.1 devices on $command/<id>/<name>/<correlation-id> and reply on .../reply.',
        tags: ['commands'],
        security: [{ bearer: [] }],
        'x-scope': 'devices:write',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 128 } } },
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', maxLength: 64 }, payload: {}, timeoutMs: { type: 'integer', minimum: 1 } } },
        response: {
          200: { type: 'object', properties: { payload: { type: 'string' }, encoding: { type: 'string', enum: ['utf8', 'base64'] }, elapsedMs: { type: 'integer' } } },
          409: errorBody,
          504: errorBody,
        },
      },
    }, async (req) => {
      const { name, payload, timeoutMs } = req.body;
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(payload));
      const actor = { principal: principalOf(authOf(req).operator.username), source: ctxOf(req).source };
      const r = await commands.send(actor, req.params.id, name, bytes, timeoutMs);
      const utf8 = isUtf8(r.payload);
      return { payload: r.payload.toString(utf8 ? 'utf8' : 'base64'), encoding: utf8 ? 'utf8' : 'base64', elapsedMs: r.elapsedMs };
    });
    return Promise.resolve();
  };
  return plugin;
}
