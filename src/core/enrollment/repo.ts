/**
 * The store port for enrollment (issue 3, point 1): one-time enrollment tokens and the sealed
 * key of their lookup hash. Re-exported from core/ports.ts; implemented by
 * store/sqlite/enrollment-repo.ts and covered by the store contract suite.
 *
 * A token is stored twice, never in clear: sealed with the SecretBox (issue 3, point 8) and as
 * an HMAC-SHA256 under a secret lookup key, so the row can be found by the presented token in
 * one indexed read without being able to recompute the hash from a stolen database alone.
 */

export interface EnrollmentTokenRecord {
  /** Random public id (hex), for listing and revoking; not part of the token. */
  id: string;
  /** HMAC-SHA256(lookup key, token), lower-case hex; unique. */
  lookup: string;
  /** The token sealed under context `enroll-token:<id>`. */
  sealed: string;
  deviceId: string;
  /** Segment the device is registered in when the token is created (informational). */
  segment: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** Serial of the certificate issued with it, once used. */
  usedFor: string | null;
}

export interface EnrollmentRepo {
  addToken(token: EnrollmentTokenRecord): Promise<void>;
  findTokenByLookup(lookup: string): Promise<EnrollmentTokenRecord | null>;
  getToken(id: string): Promise<EnrollmentTokenRecord | null>;
  listTokens(filter?: { deviceId?: string }): Promise<EnrollmentTokenRecord[]>;
  /**
   * Marks the token used, atomically: true for exactly one caller, and only while the token is
   * unused and `at` is before its expiry. This is what makes a token single-use under races.
   */
  consumeToken(id: string, at: number, usedFor: string): Promise<boolean>;
  /** Deletes a token (revocation by the operator); false when there was none. */
  deleteToken(id: string): Promise<boolean>;
  /** Replaces a token's sealed copy only if it still equals `previous` (key rotation). */
  resealToken(id: string, previous: string, next: string): Promise<boolean>;

  /** The sealed lookup key, or null before the first token. */
  getLookupKey(): Promise<string | null>;
  /** Stores `sealed` unless a lookup key exists already; returns the one stored (first writer wins). */
  initLookupKey(sealed: string): Promise<string>;
  /** Replaces the sealed lookup key only if it still equals `previous` (key rotation). */
  resealLookupKey(previous: string, next: string): Promise<boolean>;
}
