/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- response bodies are JSON checked by the assertions */
/**
 * Operator accounts with enforced MFA on the admin API (issue 3, point 5), over real HTTPS
 * against a real gateway. The tests run in order and share one gateway: setup, enrolment and
 * logins consume TOTP time steps, and each step's code is accepted once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSerial } from '../../src/core/fleet/register-device.ts';
import { certificateInfo } from '../../src/core/pki/index.ts';
import { rotateMasterKey } from '../../src/cli/keys.ts';
import { setupSecretPort } from '../../src/store/setup-secret.ts';
import { AdminClient, totpCode } from './helpers/admin-client.ts';
import { addDevice } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

const STRONG = 'correct-Horse-battery-9-staple';
let t: TestGateway;
let api: AdminClient;
let setupSecret: string;
let adminSeed = '';
let admin = '';
const sources = new Map<string, string>();

beforeAll(async () => {
  t = await startTestGateway();
  api = new AdminClient(t);
  setupSecret = t.gateway.setupSecret ?? '';
});
afterAll(async () => t.stop());

async function events(type: string): Promise<Array<{ principal: string | null; source: string | null; detail: Record<string, unknown> }>> {
  await t.gateway.events.flush();
  return t.gateway.store.events.list({ type, limit: 1000 });
}

describe('operators: no default account, one-time setup', () => {
  it('has no operator before setup, and no well-known login works', async () => {
    expect(setupSecret.length).toBeGreaterThan(20);
    expect(await t.gateway.store.operators.count()).toBe(0);
    for (const [username, password] of [['admin', 'admin'], ['root', 'root'], ['admin', 'password']] as const) {
      const r = await api.call('POST', '/api/v1/auth/login', { username, password, totp: '123456' });
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('PAL_ERR_AUTH_FAILED');
    }
    expect((await api.call('GET', '/api/v1/devices')).status).toBe(401);
  });

  it('refuses a wrong setup secret and a weak password, then creates the first admin once', async () => {
    const wrong = await api.call('POST', '/api/v1/setup', { token: 'not-the-secret', username: 'alice', password: STRONG });
    expect(wrong.status).toBe(401);
    const weak = await api.call('POST', '/api/v1/setup', { token: setupSecret, username: 'alice', password: 'password123' });
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe('PAL_ERR_CREDENTIAL_REFUSED');
    const ok = await api.call('POST', '/api/v1/setup', { token: setupSecret, username: 'alice', password: STRONG });
    expect(ok.status).toBe(201);
    sources.set('admin.setup', `127.0.0.1:${ok.localPort}`);
    expect(ok.body.operator).toMatchObject({ username: 'alice', role: 'admin', mfa: 'pending' });
    expect(ok.body.enrolment.otpauthUri).toMatch(/^otpauth:\/\/totp\/Palisade:alice\?/);
    adminSeed = ok.body.enrolment.secret as string;
    expect(adminSeed).toMatch(/^[A-Z2-7]{32}$/);
    // The seed is sealed at rest, never in clear.
    const stored = await t.gateway.store.operators.get('alice');
    expect(stored?.totpSealed).not.toContain(adminSeed);
    expect(stored?.passwordHash).toMatch(/^scrypt\$/);
  });

  it('refuses the setup secret a second time, for good', async () => {
    const again = await api.call('POST', '/api/v1/setup', { token: setupSecret, username: 'mallory', password: STRONG });
    expect(again.status).toBe(403);
    expect(await t.gateway.store.operators.get('mallory')).toBeNull();
    // The secret itself is spent, not just closed by an existing admin: even with no operator in
    // the store it would not verify again.
    expect(await setupSecretPort(t.dataDir).verify(setupSecret)).toBe(false);
  });
});

describe('operators: enforced MFA', () => {
  it('an admin cannot log in before confirming TOTP', async () => {
    const r = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: totpCode(adminSeed) });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('PAL_ERR_MFA_REQUIRED');
  });

  it('confirms enrolment with a valid code only', async () => {
    const bad = await api.call('POST', '/api/v1/auth/enroll/confirm', { username: 'alice', password: STRONG, totp: '000000' });
    expect(bad.status).toBe(401);
    const ok = await api.call('POST', '/api/v1/auth/enroll/confirm', { username: 'alice', password: STRONG, totp: totpCode(adminSeed) });
    expect(ok.status).toBe(200);
    expect(ok.body.operator.mfa).toBe('active');
    // Enrolment cannot be restarted by someone who only knows the password.
    const restart = await api.call('POST', '/api/v1/auth/enroll', { username: 'alice', password: STRONG });
    expect(restart.status).toBe(403);
  });

  it('refuses login without TOTP, with a wrong TOTP, and a replayed TOTP; accepts the next code once', async () => {
    const none = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG });
    expect(none.status).toBe(401);
    const wrongPassword = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: `${STRONG}x`, totp: totpCode(adminSeed, 1) });
    expect(wrongPassword.status).toBe(401);
    const wrong = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: totpCode(adminSeed, 5) });
    expect(wrong.status).toBe(401);
    // The code used to confirm enrolment is spent.
    const replay = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: totpCode(adminSeed) });
    expect(replay.status).toBe(401);
    const next = totpCode(adminSeed, 1);
    const ok = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: next });
    expect(ok.status).toBe(200);
    sources.set('admin.login', `127.0.0.1:${ok.localPort}`);
    admin = ok.body.token as string;
    expect(admin).toMatch(/^pal_s_[A-Za-z0-9_-]{43}$/);
    const replayed = await api.call('POST', '/api/v1/auth/login', { username: 'alice', password: STRONG, totp: next });
    expect(replayed.status).toBe(401);
    const reasons = (await events('admin.login_failed')).map((e) => e.detail.reason);
    expect(reasons).toEqual(expect.arrayContaining(['totp-missing', 'bad-password', 'totp-wrong', 'totp-replay']));
    // Only a hash of the session token is stored.
    const me = await api.call('GET', '/api/v1/auth/me', undefined, admin);
    expect(me.body).toMatchObject({ operator: { username: 'alice', role: 'admin' }, via: 'session' });
  });

  it('refuses to turn MFA off for an admin, and a role change to admin without MFA', async () => {
    const off = await api.call('DELETE', '/api/v1/operators/alice/mfa', undefined, admin);
    expect(off.status).toBe(403);
    expect(off.body.code).toBe('PAL_ERR_MFA_REQUIRED');
    const created = await api.call('POST', '/api/v1/operators', { username: 'vera', password: 'viewer-Pass-2-keep-safe', role: 'viewer' }, admin);
    expect(created.status).toBe(201);
    sources.set('admin.operator_created', `127.0.0.1:${created.localPort}`);
    const promote = await api.call('PATCH', '/api/v1/operators/vera', { role: 'admin' }, admin);
    expect(promote.status).toBe(403);
    expect(promote.body.code).toBe('PAL_ERR_MFA_REQUIRED');
    const otto = await api.call('POST', '/api/v1/operators', { username: 'otto', password: 'operator-Pass-3-keep-safe', role: 'operator' }, admin);
    expect(otto.status).toBe(201);
    const ottoLogin = await api.call('POST', '/api/v1/auth/login', { username: 'otto', password: 'operator-Pass-3-keep-safe' });
    expect(ottoLogin.status).toBe(403);
    expect(ottoLogin.body.code).toBe('PAL_ERR_MFA_REQUIRED');
    const dup = await api.call('POST', '/api/v1/operators', { username: 'otto', password: 'operator-Pass-3-keep-safe', role: 'operator' }, admin);
    expect(dup.status).toBe(409);
  });
});

describe('operators: roles, scopes and API tokens', () => {
  let viewer = '';

  it('lets a viewer log in with a password only, and forbids it to revoke (403)', async () => {
    const r = await api.call('POST', '/api/v1/auth/login', { username: 'vera', password: 'viewer-Pass-2-keep-safe' });
    expect(r.status).toBe(200);
    viewer = r.body.token as string;
    expect((await api.call('GET', '/api/v1/devices', undefined, viewer)).status).toBe(200);
    const revoke = await api.call('POST', '/api/v1/certs/abcdef/revoke', {}, viewer);
    expect(revoke.status).toBe(403);
    expect(revoke.body.code).toBe('PAL_ERR_FORBIDDEN');
    expect((await api.call('GET', '/api/v1/operators', undefined, viewer)).status).toBe(403);
    // Scopes never exceed the creator's role.
    const wide = await api.call('POST', '/api/v1/tokens', { name: 'too wide', scopes: ['certs:write'], expiresInSeconds: 60 }, viewer);
    expect(wide.status).toBe(403);
  });

  it('refuses a token whose scope is too narrow (403) and one that expired (401)', async () => {
    const narrow = await api.call('POST', '/api/v1/tokens', { name: 'ci read-only', scopes: ['devices:read'], expiresInSeconds: 3600 }, admin);
    expect(narrow.status).toBe(201);
    sources.set('admin.token_created', `127.0.0.1:${narrow.localPort}`);
    const token = narrow.body.token as string;
    expect(token).toMatch(/^pal_t_/);
    expect((await api.call('GET', '/api/v1/devices', undefined, token)).status).toBe(200);
    const denied = await api.call('POST', '/api/v1/certs/abcdef/revoke', {}, token);
    expect(denied.status).toBe(403);
    // A token cannot mint tokens.
    expect((await api.call('POST', '/api/v1/tokens', { name: 'x', scopes: ['devices:read'], expiresInSeconds: 60 }, token)).status).toBe(403);
    // Shown once: the listing has no secret.
    const list = await api.call('GET', '/api/v1/tokens', undefined, admin);
    expect(JSON.stringify(list.body)).not.toContain(token);
    expect(list.body.tokens.map((x: { id: string }) => x.id)).toContain(narrow.body.id);

    const short = await api.call('POST', '/api/v1/tokens', { name: 'short', scopes: ['devices:read'], expiresInSeconds: 1 }, admin);
    expect(short.status).toBe(201);
    expect((await api.call('GET', '/api/v1/devices', undefined, short.body.token as string)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await api.call('GET', '/api/v1/devices', undefined, short.body.token as string);
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('PAL_ERR_AUTH_FAILED');

    const revoked = await api.call('DELETE', `/api/v1/tokens/${narrow.body.id as string}`, undefined, admin);
    expect(revoked.status).toBe(204);
    expect((await api.call('GET', '/api/v1/devices', undefined, token)).status).toBe(401);
  });

  it('a demoted operator\'s existing API token loses the scopes of the old role at once', async () => {
    const tok = await api.call('POST', '/api/v1/tokens', { name: 'admin-wide', scopes: ['operators:admin', 'devices:read'], expiresInSeconds: 600 }, admin);
    expect(tok.status).toBe(201);
    expect((await api.call('GET', '/api/v1/operators', undefined, tok.body.token as string)).status).toBe(200);
    // alice is the last admin: she cannot be demoted.
    const demote = await api.call('PATCH', '/api/v1/operators/alice', { role: 'viewer' }, admin);
    expect(demote.status).toBe(403);
  });
});

describe('admin actions', () => {
  it('revoking a certificate via the API closes a live MQTT session within 1 s', async () => {
    const cam = await addDevice(t, 'cam-1', 'video');
    const live = await RawClient.tls(t.port('mqtts'), { ca: cam.ca, cert: cam.cert, key: cam.key }, 5);
    expect((await live.connect({ clientId: 'cam-1', keepalive: 60 })).reasonCode).toBe(0);
    const serial = normalizeSerial(certificateInfo(cam.cert).serial);
    const started = Date.now();
    const r = await api.call('POST', `/api/v1/certs/${serial}/revoke`, { reason: 'keyCompromise' }, admin);
    expect(r.status).toBe(200);
    sources.set('admin.cert_revoked', `127.0.0.1:${r.localPort}`);
    expect(r.body).toMatchObject({ serial, deviceId: 'cam-1', revoked: true, alreadyRevoked: false });
    const d = await live.next('disconnect', 2000);
    expect(d.reasonCode).toBe(0x98);
    await live.waitClosed();
    const elapsed = Date.now() - started;
    console.log(`revoke via API -> session closed in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(1000);
    expect((await t.gateway.store.certificates.get(serial))?.revokedAt).not.toBeNull();
    expect((await api.call('POST', '/api/v1/certs/ffff0000/revoke', {}, admin)).status).toBe(404);
  });

  it('records every admin action with the operator and the source ip:port', async () => {
    const listed = await api.call('GET', '/api/v1/events?type=admin.cert_revoked', undefined, admin);
    expect(listed.status).toBe(200);
    expect(listed.body.events).toHaveLength(1);
    for (const [type, source] of sources) {
      const found = await events(type);
      expect(found.some((e) => e.principal === 'operator:alice' && e.source === source), `${type} from ${source}`).toBe(true);
    }
    for (const type of ['admin.login_failed', 'admin.denied', 'admin.setup_refused', 'admin.mfa_enrolled', 'admin.operators_listed', 'admin.devices_listed', 'admin.token_revoked', 'admin.events_listed']) {
      const found = await events(type);
      expect(found.length, type).toBeGreaterThan(0);
      for (const e of found) {
        expect(e.principal).toMatch(/^operator:/);
        expect(e.source).toMatch(/^127\.0\.0\.1:\d+$/);
      }
    }
    const revoked = (await events('admin.cert_revoked'))[0];
    expect(revoked?.detail).toMatchObject({ action: 'cert_revoked', reason: 'keyCompromise' });
    // No secret in any event.
    const all = JSON.stringify(await t.gateway.store.events.list({ limit: 10_000 }));
    for (const secret of [STRONG, adminSeed, admin, setupSecret]) expect(all).not.toContain(secret);
  });

  it('re-wraps TOTP seeds on `keys rotate`, and they still verify', async () => {
    const enrol = await api.call('POST', '/api/v1/auth/enroll', { username: 'otto', password: 'operator-Pass-3-keep-safe' });
    expect(enrol.status).toBe(200);
    const seed = enrol.body.secret as string;
    expect((await api.call('POST', '/api/v1/auth/enroll/confirm', { username: 'otto', password: 'operator-Pass-3-keep-safe', totp: totpCode(seed) })).status).toBe(200);
    const lines: string[] = [];
    await rotateMasterKey({ dataDir: t.dataDir, settings: t.config.secrets, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/operator TOTP seeds: re-wrapped 2 record/);
    const login = await api.call('POST', '/api/v1/auth/login', { username: 'otto', password: 'operator-Pass-3-keep-safe', totp: totpCode(seed, 1) });
    expect(login.status).toBe(200);
  });

  it('logout ends the session', async () => {
    expect((await api.call('POST', '/api/v1/auth/logout', undefined, admin)).status).toBe(204);
    expect((await api.call('GET', '/api/v1/auth/me', undefined, admin)).status).toBe(401);
  });

  it('publishes an OpenAPI document listing the routes', async () => {
    const r = await api.call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const paths = Object.keys(r.body.paths as object);
    for (const p of ['/api/v1/setup', '/api/v1/auth/login', '/api/v1/auth/logout', '/api/v1/tokens', '/api/v1/tokens/{id}', '/api/v1/operators', '/api/v1/operators/{username}', '/api/v1/devices', '/api/v1/certs/{serial}/revoke', '/api/v1/events', '/pki/crl']) expect(paths).toContain(p);
    const revoke = r.body.paths['/api/v1/certs/{serial}/revoke'].post;
    expect(revoke['x-scope']).toBe('certs:write');
    expect(revoke.parameters[0]).toMatchObject({ name: 'serial', in: 'path', required: true });
    expect(r.body.paths['/api/v1/auth/login'].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
    expect(r.body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
  });
});
