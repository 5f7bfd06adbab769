import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function palisade(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['src/cli/main.ts', ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('palisade CLI', () => {
  it('describes every command in --help', async () => {
    const top = await palisade(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/start/);
    expect(top.stdout).toMatch(/device/);
    const add = await palisade(['device', 'add', '--help']);
    expect(add.stdout).toMatch(/--segment/);
  });

  it('adds a device and writes its certificate, key (0600) and CA chain', async () => {
    const out = join(dir, 'creds');
    const r = await palisade(['device', 'add', 'thermostat-17', '--segment', 'hvac', '--out', out, '--data-dir', join(dir, 'data'), '--password']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/device thermostat-17 added to segment hvac/);
    for (const f of ['cert.pem', 'key.pem', 'ca.pem', 'password']) expect(existsSync(join(out, f))).toBe(true);
    expect(statSync(join(out, 'key.pem')).mode & 0o077).toBe(0);
    expect(readFileSync(join(out, 'password'), 'utf8')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const list = await palisade(['device', 'list', '--data-dir', join(dir, 'data')]);
    expect(list.stdout).toMatch(/^thermostat-17\thvac\tactive/m);
  });

  it('prints one line and exits non-zero on errors', async () => {
    const dup = await palisade(['device', 'add', 'thermostat-17', '--segment', 'hvac', '--out', join(dir, 'c2'), '--data-dir', join(dir, 'data')]);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr.trim()).toBe('palisade: device thermostat-17 already exists');
    const badId = await palisade(['device', 'add', 'bad/id', '--segment', 'hvac', '--data-dir', join(dir, 'data')]);
    expect(badId.code).not.toBe(0);
    expect(badId.stderr.trim().split('\n')).toHaveLength(1);
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'listeners:\n  mqtt:\n    prot: 1\n');
    const start = await palisade(['start', '--config', cfg, '--data-dir', join(dir, 'data2')]);
    expect(start.code).not.toBe(0);
    expect(start.stderr.trim()).toBe('palisade: config: unknown key listeners.mqtt.prot');
    const env = await palisade(['start', '--data-dir', join(dir, 'data2')], { PALISADE_LISTENERS_MQTT_PORT: 'seventeen' });
    expect(env.stderr.trim()).toMatch(/^palisade: config: listeners\.mqtt\.port: /);
  });

  it('refuses to bind plaintext MQTT off loopback unless allowPlaintext is set', async () => {
    const r = await palisade(['start', '--data-dir', join(dir, 'data3')], { PALISADE_LISTENERS_MQTT_HOST: '0.0.0.0', PALISADE_LISTENERS_MQTT_PORT: '0', PALISADE_LISTENERS_MQTTS_ENABLED: 'false', PALISADE_LISTENERS_HTTPS_ENABLED: 'false' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/allowPlaintext: true/);
  });

  it('binds plaintext off loopback with allowPlaintext, logs a warning, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['src/cli/main.ts', 'start', '--data-dir', join(dir, 'data4')], {
      env: { ...process.env, PALISADE_LISTENERS_MQTT_HOST: '0.0.0.0', PALISADE_LISTENERS_MQTT_PORT: '0', PALISADE_LISTENERS_MQTT_ALLOW_PLAINTEXT: 'true', PALISADE_LISTENERS_MQTTS_PORT: '0', PALISADE_LISTENERS_HTTPS_PORT: '0', PALISADE_LISTENERS_COAP_PORT: '0', PALISADE_LISTENERS_COAPS_PORT: '0', PALISADE_LISTENERS_DNS_PORT: '0', PALISADE_LISTENERS_COAPS_HOST: '127.0.0.1', PALISADE_LISTENERS_MQTTS_HOST: '127.0.0.1', PALISADE_LISTENERS_HTTPS_HOST: '127.0.0.1' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('palisade started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/plaintext MQTT listener bound off loopback/);
    expect(out).toMatch(/One-time admin setup secret \(shown only now\): \S{20,}/);
    expect(out.match(/"msg":"listening \w+ on /g)).toHaveLength(6);
    const ports = JSON.parse(readFileSync(join(dir, 'data4', 'ports.json'), 'utf8')) as Record<string, { host: string; port: number }>;
    expect(ports.mqtt?.host).toBe('0.0.0.0');
    expect(ports.mqtts?.port).toBeGreaterThan(0);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
