/**
 * Policy documents and their validation. A document is untrusted input (a file, an API body):
 * it is checked completely before anything compiles it, and every problem is reported as one
 * line naming the path to the bad value, e.g. `policy cams: statements[1].actions[0]: unknown action "mqtt:pub" ...`.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { ALL_ACTIONS, expandActionPattern, resourceKind } from './actions.ts';
import { parseCidr } from './cidr.ts';
import { globProblem } from './glob.ts';
import { mqttFilterProblem } from './mqtt-filters.ts';
import { templateSyntaxProblem } from './variables.ts';

export const POLICY_VERSION = '2026-11';

export type Effect = 'allow' | 'deny';

/** All present conditions must hold for the statement to apply. */
export interface PolicyConditions {
  /** The principal's quarantine posture (absent on the principal means false). */
  quarantined?: boolean;
  /** Whether the device runs the firmware its rollout expects (absent on the principal means unknown). */
  firmwareCurrent?: boolean;
  /** Whole or fractional days from now to the session certificate's notAfter, at least. */
  certDaysLeftAtLeast?: number;
  /** The request's source address is in one of these IPv4/IPv6 ranges. */
  sourceCidr?: string[];
}

export interface PolicyStatement {
  sid?: string;
  effect: Effect;
  /** Catalogue actions, `<family>:*`, or `*`. */
  actions: string[];
  /** MQTT topic filters for mqtt publish/subscribe/receive; globs for everything else. May hold variables. */
  resources: string[];
  conditions?: PolicyConditions;
}

export interface PolicyDocument {
  name: string;
  version: typeof POLICY_VERSION;
  description?: string;
  statements: PolicyStatement[];
}

export interface PolicyAttachments {
  /** Segment name -> policy names attached to every device in it. */
  segment: Record<string, string[]>;
  /** Device id -> policy names attached to that device. */
  device: Record<string, string[]>;
}

export interface PolicyConfig {
  policies: PolicyDocument[];
  attachments: PolicyAttachments;
}

export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_STATEMENTS = 256;
export const MAX_RESOURCE_LENGTH = 1024;

const DOCUMENT_KEYS = new Set(['name', 'version', 'description', 'statements']);
const STATEMENT_KEYS = new Set(['sid', 'effect', 'actions', 'resources', 'conditions']);
const CONDITION_KEYS = new Set(['quarantined', 'firmwareCurrent', 'certDaysLeftAtLeast', 'sourceCidr']);

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

class Reporter {
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  fail(path: string, problem: string): never {
    const where = path === '' ? '' : `${path}: `;
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${this.#prefix}${where}${problem}`, { detail: { path } });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(r: Reporter, path: string, value: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) r.fail(path === '' ? key : `${path}.${key}`, `unknown key (expected one of ${[...allowed].join(', ')})`);
  }
}

function stringArray(r: Reporter, path: string, value: unknown): string[] {
  if (!Array.isArray(value)) r.fail(path, `must be an array of strings, got ${show(value)}`);
  return value.map((v, i) => {
    if (typeof v !== 'string') r.fail(`${path}[${i}]`, `must be a string, got ${show(v)}`);
    return v;
  });
}

function parseConditions(r: Reporter, path: string, value: unknown): PolicyConditions {
  if (!isRecord(value)) r.fail(path, `must be an object, got ${show(value)}`);
  checkKeys(r, path, value, CONDITION_KEYS);
  const out: PolicyConditions = {};
  for (const key of ['quarantined', 'firmwareCurrent'] as const) {
    if (value[key] === undefined) continue;
    const v = value[key];
    if (typeof v !== 'boolean') r.fail(`${path}.${key}`, `must be true or false, got ${show(v)}`);
    out[key] = v;
  }
  if (value.certDaysLeftAtLeast !== undefined) {
    const v = value.certDaysLeftAtLeast;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) r.fail(`${path}.certDaysLeftAtLeast`, `must be a number of days >= 0, got ${show(v)}`);
    out.certDaysLeftAtLeast = v;
  }
  if (value.sourceCidr !== undefined) {
    const list = stringArray(r, `${path}.sourceCidr`, value.sourceCidr);
    if (list.length === 0) r.fail(`${path}.sourceCidr`, 'must name at least one range (an empty list would match no source)');
    list.forEach((c, i) => {
      if (parseCidr(c) === null) r.fail(`${path}.sourceCidr[${i}]`, `not an IPv4 or IPv6 CIDR: ${show(c)}`);
    });
    out.sourceCidr = list;
  }
  return out;
}

function parseStatement(r: Reporter, path: string, value: unknown, sids: Set<string>): PolicyStatement {
  if (!isRecord(value)) r.fail(path, `must be an object, got ${show(value)}`);
  checkKeys(r, path, value, STATEMENT_KEYS);
  const out: Partial<PolicyStatement> = {};
  if (value.sid !== undefined) {
    const sid = value.sid;
    if (typeof sid !== 'string' || !SID_PATTERN.test(sid)) r.fail(`${path}.sid`, `must be 1-64 letters, digits, ".", "_" or "-", got ${show(sid)}`);
    if (/^[0-9]+$/.test(sid)) r.fail(`${path}.sid`, `must not be all digits (statement indexes name statements without sid), got ${show(sid)}`);
    if (sids.has(sid)) r.fail(`${path}.sid`, `duplicate sid ${show(sid)}`);
    sids.add(sid);
    out.sid = sid;
  }
  if (value.effect !== 'allow' && value.effect !== 'deny') r.fail(`${path}.effect`, `must be "allow" or "deny", got ${show(value.effect)}`);
  out.effect = value.effect;
  if (value.actions === undefined) r.fail(`${path}.actions`, 'missing');
  const actions = stringArray(r, `${path}.actions`, value.actions);
  const kinds = new Set<string>();
  actions.forEach((a, i) => {
    const expanded = expandActionPattern(a);
    if (expanded === null) {
      r.fail(`${path}.actions[${i}]`, `unknown action ${show(a)}; use one of ${ALL_ACTIONS.join(', ')}, a family wildcard such as "mqtt:*", or "*"`);
    }
    for (const e of expanded) kinds.add(resourceKind(e));
  });
  out.actions = actions;
  if (value.resources === undefined) r.fail(`${path}.resources`, 'missing');
  const resources = stringArray(r, `${path}.resources`, value.resources);
  resources.forEach((res, i) => {
    const at = `${path}.resources[${i}]`;
    if (res.length > MAX_RESOURCE_LENGTH) r.fail(at, `longer than ${MAX_RESOURCE_LENGTH} characters`);
    const syntax = templateSyntaxProblem(res);
    if (syntax) r.fail(at, syntax);
    if (kinds.has('topic') || kinds.has('filter')) {
      const problem = mqttFilterProblem(res);
      if (problem) r.fail(at, `${problem}: ${show(res)}`);
    }
    if (kinds.has('glob') || kinds.has('domain')) {
      const problem = globProblem(res);
      if (problem) r.fail(at, `${problem}: ${show(res)}`);
    }
  });
  out.resources = resources;
  if (value.conditions !== undefined) out.conditions = parseConditions(r, `${path}.conditions`, value.conditions);
  return out as PolicyStatement;
}

/** Validates an untrusted document and returns a fresh copy; throws INVALID_ARGUMENT naming the path. */
export function parsePolicyDocument(json: unknown): PolicyDocument {
  const pre: Reporter = new Reporter('policy: ');
  if (!isRecord(json)) pre.fail('', `a policy document must be a JSON object, got ${show(json)}`);
  if (typeof json.name !== 'string' || !POLICY_NAME_PATTERN.test(json.name)) {
    pre.fail('name', `must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit, got ${show(json.name)}`);
  }
  const r: Reporter = new Reporter(`policy ${json.name}: `);
  checkKeys(r, '', json, DOCUMENT_KEYS);
  if (json.version !== POLICY_VERSION) r.fail('version', `must be "${POLICY_VERSION}", got ${show(json.version)}`);
  if (json.description !== undefined && typeof json.description !== 'string') r.fail('description', `must be a string, got ${show(json.description)}`);
  if (!Array.isArray(json.statements)) r.fail('statements', `must be an array, got ${show(json.statements)}`);
  if (json.statements.length > MAX_STATEMENTS) r.fail('statements', `more than ${MAX_STATEMENTS} statements`);
  const sids = new Set<string>();
  const statements = json.statements.map((s: unknown, i: number) => parseStatement(r, `statements[${i}]`, s, sids));
  const doc: PolicyDocument = { name: json.name, version: POLICY_VERSION, statements };
  if (json.description !== undefined) doc.description = json.description;
  return doc;
}

function parseAttachmentMap(r: Reporter, path: string, value: unknown): Record<string, string[]> {
  if (value === undefined) return {};
  if (!isRecord(value)) r.fail(path, `must be an object of name -> policy names, got ${show(value)}`);
  // fromEntries defines own properties, so a target named `__proto__` stays a plain key.
  return Object.fromEntries(Object.entries(value).map(([target, names]) => [target, stringArray(r, `${path}.${target}`, names)]));
}

/**
 * Validates a bundle `{ policies: [...], attachments: { segment: {...}, device: {...} } }`.
 * Attachment targets and names are checked by the engine (validatePolicyConfig), not here.
 */
export function parsePolicyConfig(json: unknown): PolicyConfig {
  const r: Reporter = new Reporter('policy config: ');
  if (!isRecord(json)) r.fail('', `must be a JSON object, got ${show(json)}`);
  checkKeys(r, '', json, new Set(['policies', 'attachments']));
  if (!Array.isArray(json.policies)) r.fail('policies', `must be an array, got ${show(json.policies)}`);
  const policies = json.policies.map((p: unknown, i: number) => {
    try {
      return parsePolicyDocument(p);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return r.fail(`policies[${i}]`, message);
    }
  });
  const att = json.attachments ?? {};
  if (!isRecord(att)) r.fail('attachments', `must be an object, got ${show(att)}`);
  checkKeys(r, 'attachments', att, new Set(['segment', 'device']));
  return {
    policies,
    attachments: { segment: parseAttachmentMap(r, 'attachments.segment', att.segment), device: parseAttachmentMap(r, 'attachments.device', att.device) },
  };
}
