/**
 * JSON Schemas of the admin API: fastify validates requests against them (unknown fields are
 * refused), serialises responses through them (a field not listed never leaves, so no hash or
 * seed can leak by accident), and openapi.ts publishes them at /api/openapi.json.
 */
import { ROLES, SCOPES } from '../../core/operators/index.ts';
import { CRL_REASONS } from '../../core/pki/crl.ts';

const str = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
const username = { type: 'string', minLength: 1, maxLength: 64 } as const;
const password = { type: 'string', minLength: 1, maxLength: 256 } as const;
const totp = { type: 'string', pattern: '^[0-9]{6}$', description: 'RFC 6238 code (6 digits, 30 s step)' } as const;
const role = { type: 'string', enum: ROLES } as const;
const scope = { type: 'string', enum: SCOPES } as const;

export const errorSchema = {
  type: 'object',
  required: ['error', 'code'],
  properties: { error: { type: 'string' }, code: { type: 'string', description: 'stable PAL_ERR_* code' } },
} as const;

export const operatorSchema = {
  type: 'object',
  required: ['username', 'role', 'status', 'mfa', 'createdAt'],
  properties: {
    username: { type: 'string' },
    role,
    status: { type: 'string', enum: ['active', 'disabled'] },
    mfa: { type: 'string', enum: ['none', 'pending', 'active'] },
    createdAt: { type: 'integer' },
    createdBy: { type: ['string', 'null'] },
  },
} as const;

export const enrolmentSchema = {
  type: 'object',
  required: ['otpauthUri', 'secret'],
  properties: { otpauthUri: { type: 'string' }, secret: { type: 'string', description: 'base32 TOTP seed, shown once' } },
} as const;

export const tokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    operator: { type: 'string' },
    kind: { type: 'string', enum: ['session', 'api'] },
    name: { type: 'string' },
    scopes: { type: 'array', items: scope },
    createdAt: { type: 'integer' },
    expiresAt: { type: 'integer' },
    revokedAt: { type: ['integer', 'null'] },
  },
} as const;

export const body = {
  setup: { type: 'object', additionalProperties: false, required: ['token', 'username', 'password'], properties: { token: str(256), username, password } },
  enroll: { type: 'object', additionalProperties: false, required: ['username', 'password'], properties: { username, password } },
  enrollConfirm: { type: 'object', additionalProperties: false, required: ['username', 'password', 'totp'], properties: { username, password, totp } },
  login: { type: 'object', additionalProperties: false, required: ['username', 'password'], properties: { username, password, totp } },
  createToken: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'scopes', 'expiresInSeconds'],
    properties: { name: str(128), scopes: { type: 'array', minItems: 1, maxItems: SCOPES.length, items: scope }, expiresInSeconds: { type: 'integer', minimum: 1 } },
  },
  createOperator: { type: 'object', additionalProperties: false, required: ['username', 'password', 'role'], properties: { username, password, role } },
  updateOperator: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: { role, status: { type: 'string', enum: ['active', 'disabled'] }, password },
  },
  revoke: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', enum: CRL_REASONS } } },
} as const;

export const params = {
  username: { type: 'object', required: ['username'], properties: { username } },
  tokenId: { type: 'object', required: ['id'], properties: { id: str(64) } },
  serial: { type: 'object', required: ['serial'], properties: { serial: { type: 'string', pattern: '^[0-9A-Fa-f:]{1,128}$' } } },
} as const;

export const query = {
  tokens: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
  events: {
    type: 'object',
    additionalProperties: false,
    properties: { type: str(128), sinceId: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  },
} as const;

export const deviceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    segment: { type: 'string' },
    status: { type: 'string' },
    attrs: { type: 'object', additionalProperties: { type: 'string' } },
    authMethod: { type: 'string', enum: ['certificate', 'password'] },
    createdAt: { type: 'integer' },
  },
} as const;

export const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ts: { type: 'integer' },
    type: { type: 'string' },
    severity: { type: 'string' },
    principal: { type: ['string', 'null'] },
    source: { type: ['string', 'null'] },
    detail: { type: 'object', additionalProperties: true },
    hash: { type: 'string' },
  },
} as const;

/** Error responses every authenticated route can give. */
export const authErrors = { 401: errorSchema, 403: errorSchema } as const;
