/** What the operator service needs from outside core/operators, and the shared helpers. */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Scope } from './permissions.ts';
import type { Operator, OperatorRepo, OperatorToken, OperatorTokenRepo } from './types.ts';

/** The one-time admin setup secret made on first start (store/setup-secret.ts). */
export interface SetupSecretPort {
  /** True only for the right secret while it is unused. */
  verify(secret: string): Promise<boolean>;
  /** Marks it used for good. */
  consume(): Promise<void>;
}

export interface OperatorServiceDeps {
  operators: OperatorRepo;
  tokens: OperatorTokenRepo;
  events: Pick<EventLog, 'record'>;
  secrets: SecretBox;
  setupSecret: SetupSecretPort;
  /** Throws when a password may not be set (strength, deny-lists); identity/credential-checks.ts. */
  checkPassword: (username: string, password: string) => void;
  now?: () => number;
  sessionTtlMs?: number;
  maxApiTokenTtlMs?: number;
}

/** Where a request came from and who made it (null before login). */
export interface RequestContext {
  source: string;
}

export interface AuthContext {
  operator: Operator;
  token: OperatorToken;
  scopes: ReadonlySet<Scope>;
}

export interface OperatorView {
  username: string;
  role: Operator['role'];
  status: Operator['status'];
  mfa: Operator['mfa'];
  createdAt: number;
  createdBy: string | null;
}

export function viewOf(op: Operator): OperatorView {
  return { username: op.username, role: op.role, status: op.status, mfa: op.mfa, createdAt: op.createdAt, createdBy: op.createdBy };
}

/** Event principal of an operator: prefixed so it cannot be confused with a device id. */
export function principalOf(username: string): string {
  return `operator:${username.slice(0, 64)}`;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

export function normalizeUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

export function assertUsername(username: string): void {
  if (!USERNAME.test(username)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'username must be 2 to 64 characters: a-z, 0-9, dot, dash, underscore, starting with a letter or digit');
}
