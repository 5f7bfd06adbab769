/**
 * Builds the effective config: schema defaults <- YAML file <- PALISADE_* environment <- explicit
 * overrides (CLI flags). The environment is read here, at the edge, never deep in a module.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { configSchema, type PalisadeConfig } from './schema.ts';

export interface LoadOptions {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, unknown>;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function fail(message: string): never {
  throw new PalisadeError(ErrorCodes.CONFIG_INVALID, message);
}

export function loadConfig(options: LoadOptions = {}): PalisadeConfig {
  let fromFile: JsonObject = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      fail(`config file ${options.file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) fail(`config file ${options.file}: top level must be a mapping`);
        fromFile = parsed as JsonObject;
      }
    } catch (err) {
      if (err instanceof PalisadeError) throw err;
      fail(`config file ${options.file}: invalid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  const merged = structuredClone(fromFile);
  applyEnv(merged, options.env ?? {});
  if (options.overrides) deepMerge(merged, options.overrides as JsonObject);
  const result = configSchema.safeParse(merged);
  if (!result.success) fail(describeIssue(result.error));
  return result.data;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'config invalid';
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return `config: unknown key ${keys.join(', ')}`;
  }
  return `config: ${path || '(root)'}: ${issue.message}`;
}

function deepMerge(target: JsonObject, source: JsonObject): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isObject(value) && isObject(existing)) deepMerge(existing, value);
    else target[key] = structuredClone(value);
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The key tree of the schema's defaults, used to map `PALISADE_A_B_C` onto camelCase paths. */
const defaultsTree: JsonObject = configSchema.parse({});

/**
 * `PALISADE_LISTENERS_MQTT_PORT=1884` sets listeners.mqtt.port. Segments are matched
 * case-insensitively against the schema's keys, and one key may span several segments
 * (`ALLOW_PLAINTEXT` or `ALLOWPLAINTEXT` both reach allowPlaintext). Values are parsed as YAML
 * scalars so numbers and booleans arrive typed; the schema still validates them.
 */
function applyEnv(target: JsonObject, env: Record<string, string | undefined>): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('PALISADE_') || raw === undefined) continue;
    const parts = name.slice('PALISADE_'.length).split('_').filter((p) => p.length > 0);
    const path = resolvePath(parts, defaultsTree);
    if (!path) fail(`config: environment variable ${name} names no setting`);
    let value: unknown;
    try {
      value = parseYaml(raw);
    } catch {
      value = raw;
    }
    setPath(target, path, value as Json);
  }
}

function resolvePath(parts: string[], node: Json | undefined): string[] | null {
  if (parts.length === 0) return [];
  // A nullable section (e.g. listeners.mqtt.anonymous) has no default keys to match against:
  // the remaining segments name one camelCase key inside it, and the schema validates it.
  if (node === null) return [camelCase(parts)];
  if (!isObject(node)) return null;
  for (let take = parts.length; take >= 1; take--) {
    const wanted = parts.slice(0, take).join('').toLowerCase();
    const key = Object.keys(node).find((k) => k.toLowerCase() === wanted);
    if (key === undefined) continue;
    const rest = resolvePath(parts.slice(take), node[key]);
    if (rest) return [key, ...rest];
  }
  return null;
}

function setPath(target: JsonObject, path: string[], value: Json): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isObject(next)) node[key] = {};
    node = node[key] as JsonObject;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function camelCase(parts: string[]): string {
  return parts.map((p, i) => (i === 0 ? p.toLowerCase() : p.charAt(0) + p.slice(1).toLowerCase())).join('');
}
