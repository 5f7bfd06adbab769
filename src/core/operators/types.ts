/**
 * Operator accounts and their tokens (issue 3, point 5): the records and the two store ports.
 * Operators are people who run the gateway, distinct from devices; they are named by a
 * lower-case username that never changes, so audit events stay attributable.
 */
import type { Scope } from './permissions.ts';

export type OperatorRole = 'admin' | 'operator' | 'viewer';
export type OperatorStatus = 'active' | 'disabled';
/** none: no seed; pending: seed issued, not yet confirmed with a code; active: TOTP required. */
export type MfaState = 'none' | 'pending' | 'active';

export interface Operator {
  username: string;
  role: OperatorRole;
  status: OperatorStatus;
  /** scrypt hash (identity/password.ts). */
  passwordHash: string;
  /** The base32 TOTP seed sealed with the SecretBox under totpContext(username). */
  totpSealed: string | null;
  mfa: MfaState;
  /** Last accepted RFC 6238 time step; a code for this step or an earlier one is a replay. */
  totpLastStep: number | null;
  createdAt: number;
  /** Username of the admin who created it; null for the first admin (setup). */
  createdBy: string | null;
}

export type OperatorPatch = Partial<Pick<Operator, 'role' | 'status' | 'passwordHash' | 'totpSealed' | 'mfa' | 'totpLastStep'>>;

export interface OperatorRepo {
  /** ALREADY_EXISTS when the username is taken. */
  create(op: Operator): Promise<void>;
  /** Creates `op` only if no operator exists at all, atomically; false when one does. */
  createFirst(op: Operator): Promise<boolean>;
  get(username: string): Promise<Operator | null>;
  list(): Promise<Operator[]>;
  count(): Promise<number>;
  /** False when there is no such operator. */
  update(username: string, patch: OperatorPatch): Promise<boolean>;
  /** Records `step` as used if it is later than the last used one, atomically; false = replay. */
  useTotpStep(username: string, step: number): Promise<boolean>;
  /** Deletes the operator and, with it, every token of theirs. */
  delete(username: string): Promise<boolean>;
  /** Every sealed TOTP seed, for `palisade keys rotate`. */
  listSealedSeeds(): Promise<Array<{ username: string; sealed: string }>>;
  /** Replaces a sealed seed only if it still equals `previous` (no lost concurrent update). */
  replaceSealedSeed(username: string, previous: string, next: string): Promise<boolean>;
}

export type TokenKind = 'session' | 'api';

export interface OperatorToken {
  /** Public id (`tok_…`), safe to show and log; the secret is never stored. */
  id: string;
  operator: string;
  kind: TokenKind;
  /** SHA-256 of the secret token, lower-case hex. */
  hash: string;
  name: string;
  /** For API tokens the granted scopes; sessions carry their role's scopes and store []. */
  scopes: Scope[];
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export interface OperatorTokenRepo {
  create(token: OperatorToken): Promise<void>;
  get(id: string): Promise<OperatorToken | null>;
  getByHash(hash: string): Promise<OperatorToken | null>;
  /** Newest first. */
  list(filter?: { operator?: string; kind?: TokenKind }): Promise<OperatorToken[]>;
  /** False when unknown or already revoked. */
  revoke(id: string, at: number): Promise<boolean>;
  /** Revokes every live token of one operator; returns how many. */
  revokeAllFor(operator: string, at: number): Promise<number>;
}
