/**
 * Bearer tokens for sessions and API access: 256 random bits, shown once, stored only as a
 * SHA-256 hash. A slow hash is not needed: the input has 256 bits of entropy, so the hash
 * cannot be brute-forced, and a fast one keeps per-request authentication cheap.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TokenKind } from './types.ts';

const PREFIX: Record<TokenKind, string> = { session: 'pal_s_', api: 'pal_t_' };

export function newTokenSecret(kind: TokenKind): string {
  return `${PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
}

export function newTokenId(): string {
  return `tok_${randomBytes(9).toString('base64url')}`;
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
