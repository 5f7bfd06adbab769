/**
 * Roles and scopes of the admin API (issue 3, point 5). Every route names the one scope it
 * needs; a session carries all scopes of its operator's role, an API token the scopes it was
 * given, never more than its creator's role holds (and re-checked against the role on every
 * request, so a demotion narrows existing tokens at once).
 *
 * | scope            | viewer | operator | admin |
 * |------------------|:------:|:--------:|:-----:|
 * | devices:read     |   x    |    x     |   x   |
 * | certs:read       |   x    |    x     |   x   |
 * | policies:read    |   x    |    x     |   x   |
 * | events:read      |   x    |    x     |   x   |
 * | devices:write    |        |    x     |   x   |
 * | certs:write      |        |    x     |   x   |
 * | policies:write   |        |    x     |   x   |
 * | operators:admin  |        |          |   x   |
 *
 * Managing one's own API tokens and logging out need a session, not a scope: a token cannot
 * mint tokens. MFA: admin and operator logins always need a TOTP code; a viewer may enrol
 * TOTP (then it is required) but need not.
 */
import type { OperatorRole } from './types.ts';

export const SCOPES = ['devices:read', 'certs:read', 'policies:read', 'events:read', 'devices:write', 'certs:write', 'policies:write', 'operators:admin'] as const;
export type Scope = (typeof SCOPES)[number];

const READ: readonly Scope[] = ['devices:read', 'certs:read', 'policies:read', 'events:read'];
const WRITE: readonly Scope[] = ['devices:write', 'certs:write', 'policies:write'];

export const ROLE_SCOPES: Readonly<Record<OperatorRole, ReadonlySet<Scope>>> = {
  viewer: new Set(READ),
  operator: new Set([...READ, ...WRITE]),
  admin: new Set([...READ, ...WRITE, 'operators:admin']),
};

export const ROLES: readonly OperatorRole[] = ['admin', 'operator', 'viewer'];

/** Roles whose logins always need a TOTP code; MFA can never be removed from them. */
export function roleRequiresMfa(role: OperatorRole): boolean {
  return role === 'admin' || role === 'operator';
}

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}
