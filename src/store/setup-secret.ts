/**
 * The one-time admin setup secret (DESIGN.md §3): made on first start, printed once, stored
 * only as a hash. The operator-accounts issue consumes it to create the first admin.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePassword, hashPassword, verifyPassword } from '../core/identity/password.ts';
import type { SetupSecretPort } from '../core/operators/index.ts';

/** Returns the new secret on first start, null when one was made before. */
export async function ensureSetupSecret(dataDir: string): Promise<string | null> {
  const path = join(dataDir, 'admin-setup.json');
  if (existsSync(path)) return null;
  const secret = generatePassword();
  writeFileSync(path, JSON.stringify({ hash: await hashPassword(secret), createdAt: new Date().toISOString(), used: false }), { mode: 0o600 });
  return secret;
}

/**
 * The port core/operators uses to check and consume the secret (POST /api/v1/setup). Once
 * consumed the file says so and the secret never works again, even if the database is reset.
 */
export function setupSecretPort(dataDir: string): SetupSecretPort {
  const path = join(dataDir, 'admin-setup.json');
  const read = (): { hash: string; createdAt: string; used: boolean } | null => {
    if (!existsSync(path)) return null;
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { hash?: unknown; createdAt?: unknown; used?: unknown };
    return typeof parsed.hash === 'string' ? { hash: parsed.hash, createdAt: String(parsed.createdAt), used: parsed.used !== false } : null;
  };
  return {
    async verify(secret) {
      const state = read();
      if (!state || state.used) return false;
      return verifyPassword(secret, state.hash);
    },
    consume() {
      const state = read();
      if (state) writeFileSync(path, JSON.stringify({ ...state, used: true, usedAt: new Date().toISOString() }), { mode: 0o600 });
      return Promise.resolve();
    },
  };
}
