/**
 * The process contract the other interop files build on: `palisade start` (ports.json, PKI,
 * strict config, SIGTERM) and `palisade device add`, run as real processes.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, runCli, runTool } from './harness.ts';

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { enabled: false },
    coap: { enabled: false },
    coaps: { enabled: false },
    dns: { enabled: false },
  },
};

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'palisade-cli-'));
});

afterAll(async () => {
  await killAll();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('palisade CLI', () => {
  it('--help describes start and device', async () => {
    const r = await runCli(['--help']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/\bstart\b/);
    expect(r.stdout).toMatch(/\bdevice\b/);
  });

  for (const [label, config, key] of [
    ['top-level', { ...CONFIG, bogus: 1 }, 'bogus'],
    ['nested', { ...CONFIG, listeners: { ...CONFIG.listeners, mqtt: { port: 0, colour: 'blue' } } }, 'colour'],
  ] as const) {
    it(`an unknown ${label} config key stops the start with one line naming it and a non-zero exit`, async () => {
      const file = join(scratch, `unknown-${label}.yaml`);
      await writeFile(file, toYaml(config));
      const r = await runCli(['start', '--config', file, '--data-dir', join(scratch, `data-${label}`)], 15_000);
      expect(r.timedOut, explain(r)).toBe(false);
      expect(r.code, explain(r)).not.toBe(0);
      expect(r.code, explain(r)).not.toBeNull();
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, explain(r)).toHaveLength(1);
      expect(lines[0]).toContain(key);
    });
  }
});

describe('palisade start', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await Gateway.start(CONFIG);
  });

  afterAll(async () => {
    await gw?.dispose();
  });

  it('writes ports.json with the enabled listeners only, bound on 127.0.0.1', async () => {
    const ports = JSON.parse(await readFile(join(gw.dataDir, 'ports.json'), 'utf8')) as Record<string, { host: string; port: number }>;
    expect(Object.keys(ports).sort()).toEqual(['mqtt', 'mqtts']);
    for (const ep of Object.values(ports)) {
      expect(ep.host).toBe('127.0.0.1');
      expect(ep.port).toBeGreaterThan(0);
    }
    expect(ports['mqtt']!.port).not.toBe(ports['mqtts']!.port);
  });

  it('creates the PKI: a CA chain and a server certificate for the configured host names', async () => {
    for (const f of ['ca.pem', 'server-cert.pem', 'server-key.pem']) expect(existsSync(join(gw.dataDir, 'pki', f)), f).toBe(true);
    const server = new X509Certificate(await gw.readPem('server-cert.pem'));
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const r = await runTool('openssl', ['verify', '-CAfile', gw.caPath, join(gw.dataDir, 'pki', 'server-cert.pem')], { timeoutMs: 10_000 });
    expect(r.code, explain(r)).toBe(0);
  });

  it('device add works while the gateway runs and writes cert.pem, key.pem, ca.pem (and password with --password)', async () => {
    const d = await gw.addDevice('probe-1', 'lab', { password: true });
    const r = await runTool('openssl', ['verify', '-CAfile', d.caPath, '-purpose', 'sslclient', d.certPath], { timeoutMs: 10_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(d.cliOutput).toContain(d.password!);
  });

  it('device add of an existing name fails with a non-zero exit', async () => {
    await gw.addDevice('probe-2', 'lab');
    const r = await runCli(['device', 'add', 'probe-2', '--segment', 'lab', '--out', join(scratch, 'dup'), '--data-dir', gw.dataDir]);
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr.trim(), explain(r)).not.toBe('');
  });

  it('SIGTERM stops it cleanly with exit 0, and it starts again on the same data dir', async () => {
    const caBefore = await readFile(gw.caPath, 'utf8');
    const exit = await gw.restart();
    expect(exit, gw.stderr).toEqual({ code: 0, signal: null, killed: false });
    expect(gw.running).toBe(true);
    expect(await readFile(gw.caPath, 'utf8')).toBe(caBefore);
  });
});
