/**
 * Device keys end to end: `palisade device add` / `palisade device psk` / `palisade cert revoke`
 * / `palisade keys rotate` through the real CLI on a real data dir, and a DtlsServer using the
 * device hooks over the same store (the gateway's wiring: deviceDtlsHooks + the data dir's PKI),
 * with libcoap and openssl as the devices.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceDtlsHooks } from '../../src/protocols/dtls/index.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { ensurePki } from '../../src/store/pki-files.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { COAP_PAYLOAD, opensslPsk, runPeer, startDtlsServer, type RunningServer } from './dtls-peers.ts';
import { explain, runCli } from './harness.ts';

const SETTINGS = { masterKeyFile: null, masterKeyEnv: null };

let dir: string;
let store: SqliteStore;
let srv: RunningServer;

async function cli(...args: string[]): Promise<string> {
  const r = await runCli([...args, '-d', dir]);
  expect(r.code, explain(r)).toBe(0);
  return r.stdout;
}

async function newPsk(id: string): Promise<{ text: string; hex: string }> {
  const out = await cli('device', 'psk', id);
  const text = /key:\s+([0-9a-f]{32})/.exec(out)?.[1];
  const hex = /openssl hex:\s+([0-9a-f]{64})/.exec(out)?.[1];
  expect(text, out).toBeDefined();
  expect(Buffer.from(text!, 'ascii').toString('hex')).toBe(hex);
  return { text: text!, hex: hex! };
}

function coapClient(client: string, args: string[]) {
  return runPeer(client, ['-B', '5', ...args, `coaps://127.0.0.1:${srv.port}/.well-known/core`]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-dtls-keys-'));
  await cli('device', 'add', 'cam-1', '-s', 'default', '-o', join(dir, 'cam-1'));
  await cli('device', 'add', 'cam-2', '-s', 'default', '-o', join(dir, 'cam-2'));
  store = await openSqliteStore(join(dir, 'palisade.db'));
  const secrets = openSecretBox(dir, SETTINGS);
  const pki = await ensurePki(dir, ['localhost', '127.0.0.1'], store, secrets);
  srv = await startDtlsServer({ ...deviceDtlsHooks({ store, secrets }), cert: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, caPem: pki.caChainPem } });
});

afterAll(async () => {
  await srv.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('device PSKs from palisade device psk', () => {
  it('the printed key works with coap-client -k and its hex with openssl -psk; a new key replaces the old one', async () => {
    const first = await newPsk('cam-1');
    const r1 = await coapClient('coap-client-openssl', ['-u', 'cam-1', '-k', first.text]);
    expect(r1.stdout, r1.stderr).toContain(COAP_PAYLOAD);
    const r2 = await runPeer('openssl', opensslPsk(srv.port, 'cam-1', first.hex, 'PSK-AES128-CCM8'), { input: 'PING hex\n', until: /PING hex/ });
    expect(r2.matched, r2.stderr).toBe(true);

    const second = await newPsk('cam-1');
    const old = await coapClient('coap-client-gnutls', ['-u', 'cam-1', '-k', first.text]);
    expect(old.stdout).not.toContain(COAP_PAYLOAD);
    expect(srv.events.some((e) => e.type === 'dtls.handshake_failed' && e.principal === 'cam-1')).toBe(true);
    const fresh = await coapClient('coap-client-gnutls', ['-u', 'cam-1', '-k', second.text]);
    expect(fresh.stdout, fresh.stderr).toContain(COAP_PAYLOAD);
  });

  it('a device without a PSK, or another device\'s key, is refused', async () => {
    const key = await newPsk('cam-1');
    const r = await coapClient('coap-client-openssl', ['-u', 'cam-2', '-k', key.text]);
    expect(r.stdout).not.toContain(COAP_PAYLOAD);
    expect(srv.events.some((e) => e.type === 'dtls.handshake_failed' && e.principal === 'cam-2' && e.detail['identityKnown'] === false)).toBe(true);
  });

  it('keys rotate re-wraps the PSKs and the running server still opens them', async () => {
    const key = await newPsk('cam-1');
    const out = await cli('keys', 'rotate');
    expect(out).toMatch(/device-psks: re-wrapped [1-9]/);
    const r = await coapClient('coap-client-openssl', ['-u', 'cam-1', '-k', key.text]);
    expect(r.stdout, r.stderr).toContain(COAP_PAYLOAD);
  });
});

describe('device certificates from palisade device add', () => {
  it('coap-client with the device credentials is identified as the device; after palisade cert revoke it is refused', async () => {
    const creds = join(dir, 'cam-2');
    const args = ['-c', join(creds, 'cert.pem'), '-j', join(creds, 'key.pem'), '-C', join(creds, 'ca.pem')];
    const before = srv.sessions.length;
    const ok = await coapClient('coap-client-openssl', args);
    expect(ok.stdout, ok.stderr).toContain(COAP_PAYLOAD);
    expect(srv.sessions[before]?.identity).toMatchObject({ kind: 'certificate', cert: { deviceId: 'cam-2' } });

    await cli('cert', 'revoke', '--device', 'cam-2', '--reason', 'keyCompromise');
    const refused = await coapClient('coap-client-gnutls', args);
    expect(refused.stdout).not.toContain(COAP_PAYLOAD);
    expect(srv.events.some((e) => e.type === 'dtls.handshake_failed' && e.detail['alert'] === 'certificate_revoked')).toBe(true);
  });
});
