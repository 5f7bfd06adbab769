/**
 * One-time enrollment tokens (issue 3, points 1 and 8). A token is 256 random bits, shown once
 * to the operator and never stored in clear: the store keeps it sealed with the SecretBox and as
 * an HMAC-SHA256 under a lookup key that is itself sealed in the store. Finding a token is one
 * indexed read by its HMAC; the sealed copy is then opened and compared in constant time, so a
 * row forged by someone with write access to the database but not the master key never matches.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { EnrollmentRepo, EnrollmentTokenRecord } from './repo.ts';

/** "pet" = Palisade enrollment token; the prefix lets secret scanners recognise a leaked one. */
export const TOKEN_PREFIX = 'pet_';
/** 32 random octets in base64url: 43 characters, all legal in a Bearer b64token (RFC 6750 §2.1). */
const TOKEN_PATTERN = /^pet_[A-Za-z0-9_-]{43}$/;

export const LOOKUP_KEY_CONTEXT = 'enroll:lookup-key';

export const MIN_TOKEN_TTL_MS = 60_000;
export const MAX_TOKEN_TTL_MS = 30 * 86_400_000;

export function tokenContext(id: string): string {
  return `enroll-token:${id}`;
}

export function looksLikeToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

export class EnrollmentTokens {
  readonly #repo: EnrollmentRepo;
  readonly #secrets: SecretBox;
  #lookupKey: Buffer | null = null;

  constructor(repo: EnrollmentRepo, secrets: SecretBox) {
    this.#repo = repo;
    this.#secrets = secrets;
  }

  /** Creates a token for a device; the clear token is returned here and nowhere else. */
  async create(req: { deviceId: string; segment: string; ttlMs: number; now: number }): Promise<{ token: string; record: EnrollmentTokenRecord }> {
    if (!Number.isInteger(req.ttlMs) || req.ttlMs < MIN_TOKEN_TTL_MS || req.ttlMs > MAX_TOKEN_TTL_MS) {
      throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'enrollment token lifetime must be between 1 minute and 30 days', { detail: { ttlMs: req.ttlMs } });
    }
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = randomBytes(8).toString('hex');
    const record: EnrollmentTokenRecord = {
      id,
      lookup: await this.#hash(token),
      sealed: this.#secrets.seal(token, tokenContext(id)),
      deviceId: req.deviceId,
      segment: req.segment,
      createdAt: req.now,
      expiresAt: req.now + req.ttlMs,
      usedAt: null,
      usedFor: null,
    };
    await this.#repo.addToken(record);
    return { token, record };
  }

  /** The record of a presented token, used or not, expired or not; null when it matches none. */
  async find(token: string): Promise<EnrollmentTokenRecord | null> {
    if (!looksLikeToken(token)) return null;
    const record = await this.#repo.findTokenByLookup(await this.#hash(token));
    if (record === null) return null;
    const stored = this.#secrets.open(record.sealed, tokenContext(record.id));
    const given = Buffer.from(token, 'utf8');
    return stored.length === given.length && timingSafeEqual(stored, given) ? record : null;
  }

  async #hash(token: string): Promise<string> {
    return createHmac('sha256', await this.#key()).update(token, 'utf8').digest('hex');
  }

  /** The lookup key never changes (rotation re-wraps it), so it is opened once per process. */
  async #key(): Promise<Buffer> {
    if (this.#lookupKey !== null) return this.#lookupKey;
    let sealed = await this.#repo.getLookupKey();
    // Two processes may race to create it; initLookupKey keeps the first and both use that one.
    sealed ??= await this.#repo.initLookupKey(this.#secrets.seal(randomBytes(32), LOOKUP_KEY_CONTEXT));
    this.#lookupKey = this.#secrets.open(sealed, LOOKUP_KEY_CONTEXT);
    return this.#lookupKey;
  }
}
