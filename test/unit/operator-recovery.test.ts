/* eslint-disable @typescript-eslint/no-unsafe-member-access -- response bodies are JSON checked by the assertions */
/**
 * Break-glass recovery (issue 3, point 5): the only admin lost their authenticator. MFA cannot
 * be turned off for the admin role, so `palisade operator reset-mfa` on the host sets a new
 * password (shown once), clears the seed and revokes every token; the admin must enrol a new
 * TOTP before logging in again. Real gateway, real HTTPS, the CLI against its data dir.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerOperatorCommands } from '../../src/cli/operator.ts';
import { AdminClient, totpCode } from './helpers/admin-client.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const STRONG = 'correct-Horse-battery-9-staple';
let t: TestGateway;
let api: AdminClient;

beforeAll(async () => {
  t = await startTestGateway();
  api = new AdminClient(t);
});
afterAll(async () => t.stop());

async function cli(args: string[]): Promise<string[]> {
  const program = new Command().name('palisade').exitOverride();
  registerOperatorCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', 'operator', ...args, '--data-dir', t.dataDir]);
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

describe('palisade operator reset-mfa', () => {
  it('resets a lost authenticator of the only admin without ever turning MFA off', async () => {
    const setup = await api.call('POST', '/api/v1/setup', { token: t.gateway.setupSecret, username: 'alice', password: STRONG });
    expect(setup.status).toBe(201);
    const seed = setup.body.enrolment.secret as string;
    expect((await api.call('POST', '/api/v1/auth/enroll/confirm', { username: 'alice', password: STRONG, totp: totpCode(seed) })).status).toBe(200);
    const session = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: totpCode(seed, 1) });
    expect(session.status).toBe(200);
    const oldToken = session.body.token as string;
    expect((await api.call('GET', '/api/v1/devices', undefined, oldToken)).status).toBe(200);

    expect((await cli(['list'])).join('\n')).toMatch(/^alice\tadmin\tactive\tmfa active$/m);
    const out = await cli(['reset-mfa', 'alice']);
    const password = /new password \(shown once\): (\S+)/.exec(out.join('\n'))?.[1] ?? '';
    expect(password.length).toBeGreaterThanOrEqual(24);

    // Every session is gone, the old password is gone, and the new one alone does not log in.
    expect((await api.call('GET', '/api/v1/devices', undefined, oldToken)).status).toBe(401);
    expect((await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: totpCode(seed, -1) })).status).toBe(401);
    const noMfa = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password, totp: '000000' });
    expect(noMfa.status).toBe(403);
    expect(noMfa.body.code).toBe('PAL_ERR_MFA_REQUIRED');

    // With the new password the admin enrols a new authenticator, and then logs in with it.
    const enrol = await api.call('POST', '/api/v1/auth/enroll', { username: 'alice', password });
    expect(enrol.status).toBe(200);
    const newSeed = enrol.body.secret as string;
    expect(newSeed).not.toBe(seed);
    expect((await api.call('POST', '/api/v1/auth/enroll/confirm', { username: 'alice', password, totp: totpCode(newSeed) })).status).toBe(200);
    expect((await api.call('POST', '/api/v1/auth/login', { username: 'alice', password, totp: totpCode(newSeed, 1) })).status).toBe(200);

    await t.gateway.events.flush();
    const [reset] = await t.gateway.store.events.list({ type: 'admin.mfa_reset' });
    expect(reset?.principal).toMatch(/^cli:/);
    expect(reset?.source).toMatch(/^cli@/);
    expect(reset?.detail).toMatchObject({ target: 'alice', role: 'admin', breakGlass: true, tokensRevoked: 1 });
    const all = JSON.stringify(await t.gateway.store.events.list({ limit: 10_000 }));
    expect(all).not.toContain(password);
  });

  it('names an unknown operator in one line', async () => {
    await expect(cli(['reset-mfa', 'nobody'])).rejects.toThrow('no operator nobody');
  });
});
