/**
 * The one-time admin setup secret (DESIGN.md §3): made on first start, printed once, stored
 * only as a hash. The operator-accounts issue consumes it to create the first admin.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePassword, hashPassword } from '../core/identity/password.ts';

/** Returns the new secret on first start, null when one was made before. */
export async function ensureSetupSecret(dataDir: string): Promise<string | null> {
  const path = join(dataDir, 'admin-setup.json');
  if (existsSync(path)) return null;
  const secret = generatePassword();
  writeFileSync(path, JSON.stringify({ hash: await hashPassword(secret), createdAt: new Date().toISOString(), used: false }), { mode: 0o600 });
  return secret;
}
