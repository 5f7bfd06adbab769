/* eslint-disable @typescript-eslint/no-unsafe-member-access -- response bodies are JSON checked by the assertions */
/**
 * Admin logins are throttled by source address and username (shield/auth-throttle.ts) before
 * any password hashing: once banned, even the right password is refused without being checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from './helpers/admin-client.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const STRONG = 'correct-Horse-battery-9-staple';
let t: TestGateway;
let api: AdminClient;

beforeAll(async () => {
  t = await startTestGateway({ shield: { authThrottle: { addressThreshold: 6, usernameThreshold: 3, baseBanMs: 60_000 } } });
  api = new AdminClient(t);
});
afterAll(async () => t.stop());

describe('admin login throttle', () => {
  it('bans a username after repeated failures and refuses it (429) before checking the password', async () => {
    const setup = await api.call('POST', '/api/v1/setup', { token: t.gateway.setupSecret, username: 'alice', password: STRONG });
    expect(setup.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: `wrong-${i}-Password-x` })).status).toBe(401);
    const banned = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG });
    expect(banned.status).toBe(429);
    expect(banned.body.code).toBe('PAL_ERR_RATE_LIMITED');
    expect(Number(banned.headers['retry-after'])).toBeGreaterThan(50);
    await t.gateway.events.flush();
    // Three checked failures; the banned attempt never reached the password check.
    expect(await t.gateway.store.events.list({ type: 'admin.login_failed' })).toHaveLength(3);
    const throttled = await t.gateway.store.events.list({ type: 'admin.throttled' });
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.principal).toBe('operator:alice');
    expect(throttled[0]?.source).toBe(`127.0.0.1:${banned.localPort}`);
    expect(await t.gateway.store.events.list({ type: 'admin.banned' })).toHaveLength(1);
  });

  it('bans a source address across usernames; a banned address is cut before the TLS handshake', async () => {
    for (let i = 0; i < 3; i++) expect((await api.call('POST', '/api/v1/auth/login', { username: `user${i}`, password: `wrong-${i}-Password-x` })).status).toBe(401);
    await expect(api.call('GET', '/healthz')).rejects.toThrow();
  });
});
