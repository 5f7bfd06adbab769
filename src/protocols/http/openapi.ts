/**
 * The OpenAPI 3.1 document of the HTTP API (DESIGN.md §3: served at /api/openapi.json). It is
 * built from the routes themselves: an onRoute hook on the root app sees every route of every
 * route group, and each route's JSON Schemas (body, params, querystring, responses) are the
 * ones fastify validates with, so the document cannot drift from the code. OpenAPI 3.1 uses
 * JSON Schema 2020-12, which these schemas are written in.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: readonly string[];
    security?: ReadonlyArray<Record<string, readonly string[]>>;
    /** The scope the route needs (core/operators/permissions.ts). */
    'x-scope'?: string;
  }
}

type Json = Record<string, unknown>;

interface Collected {
  method: string;
  url: string;
  schema: RouteOptions['schema'];
}

function parametersOf(schema: unknown, where: 'path' | 'query'): Json[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, sub]) => ({ name, in: where, required: where === 'path' || (s.required ?? []).includes(name), schema: sub }));
}

function operation(r: Collected): Json {
  const s = r.schema ?? {};
  const op: Json = { summary: s.summary ?? `${r.method} ${r.url}` };
  if (s.description !== undefined) op.description = s.description;
  if (s.tags !== undefined) op.tags = s.tags;
  op.security = s.security ?? [];
  if (s['x-scope'] !== undefined) op['x-scope'] = s['x-scope'];
  const parameters = [...parametersOf(s.params, 'path'), ...parametersOf(s.querystring, 'query')];
  if (parameters.length > 0) op.parameters = parameters;
  if (s.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } };
  const responses: Json = {};
  for (const [code, schema] of Object.entries((s.response ?? {}) as Record<string, Json>)) {
    responses[code] = schema.type === 'null' ? { description: 'no content' } : { description: code.startsWith('2') ? 'success' : 'error {error, code}', content: { 'application/json': { schema } } };
  }
  op.responses = Object.keys(responses).length > 0 ? responses : { 200: { description: 'success' } };
  return op;
}

/**
 * Collects routes from now on (call before registering route groups) and serves the document
 * at `path` once the app is ready.
 */
export function serveOpenApi(app: FastifyInstance, info: { title: string; version: string }, path = '/api/openapi.json'): void {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) if (m !== 'HEAD' && r.url !== path) routes.push({ method: m, url: r.url, schema: r.schema });
  });
  let doc: Json | null = null;
  const build = (): Json => {
    const paths: Record<string, Json> = {};
    for (const r of routes) {
      // A trailing wildcard (`/api/v1/publish/*`) is the path parameter named `*`.
      const p = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{*}');
      paths[p] = { ...paths[p], [r.method.toLowerCase()]: operation(r) };
    }
    return {
      openapi: '3.1.0',
      info: { ...info, description: 'Errors are JSON {error, code} with a stable PAL_ERR_* code. Authenticate with Authorization: Bearer <session or API token>.' },
      // Devices (the /api/v1 device API) use their client certificate, or their device token as Basic `id:token` or Bearer `id.token`.
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, deviceBasic: { type: 'http', scheme: 'basic' }, deviceCertificate: { type: 'mutualTLS' } } },
      paths,
    };
  };
  app.get(path, { schema: { summary: 'This document', tags: ['meta'] } }, async (_req, reply) => {
    doc ??= build();
    return reply.type('application/json').send(doc);
  });
}
