import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../core/errors.ts';
import { loadConfig } from './load.ts';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isPalisadeError(err, ErrorCodes.CONFIG_INVALID)) return err.message;
    throw err;
  }
  throw new Error('expected a config error');
}

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-cfg-'));
  const file = join(dir, 'palisade.yaml');
  writeFileSync(file, text);
  return file;
}

describe('config', () => {
  it('has secure defaults in one place', () => {
    const c = loadConfig();
    expect(c.dataDir).toBe('./palisade-data');
    expect(c.listeners.mqtt).toMatchObject({ host: '127.0.0.1', port: 1883, allowPlaintext: false, anonymous: null });
    expect(c.listeners.mqtts).toMatchObject({ port: 8883, requireClientCert: true, clientIdMatch: 'exact' });
    expect(c.listeners.https.port).toBe(8443);
    expect(c.mqtt.preAuthTimeoutMs).toBe(10_000);
  });

  it('layers YAML, then PALISADE_* environment, then overrides', () => {
    const file = yamlFile('listeners:\n  mqtt:\n    port: 1884\nmqtt:\n  maxInflight: 10\n');
    const c = loadConfig({ file, env: { PALISADE_MQTT_MAX_INFLIGHT: '20', PALISADE_LISTENERS_MQTTS_REQUIRECLIENTCERT: 'false', PALISADE_LISTENERS_MQTT_ANONYMOUS_SEGMENT: 'lab', HOME: '/root' }, overrides: { dataDir: '/tmp/x' } });
    expect(c.listeners.mqtt.port).toBe(1884);
    expect(c.mqtt.maxInflight).toBe(20);
    expect(c.listeners.mqtts.requireClientCert).toBe(false);
    expect(c.listeners.mqtt.anonymous).toEqual({ segment: 'lab' });
    expect(c.dataDir).toBe('/tmp/x');
  });

  it('does not mutate the caller overrides', () => {
    const overrides = { listeners: { mqtt: { port: 5 } } };
    loadConfig({ overrides });
    expect(overrides).toEqual({ listeners: { mqtt: { port: 5 } } });
  });

  it('stops on an unknown key with one line naming it', () => {
    expect(errorOf(() => loadConfig({ file: yamlFile('listeners:\n  mqtt:\n    prot: 1\n') }))).toBe('config: unknown key listeners.mqtt.prot');
    expect(errorOf(() => loadConfig({ env: { PALISADE_LISTENERS_MQTT_PROT: '1' } }))).toBe('config: environment variable PALISADE_LISTENERS_MQTT_PROT names no setting');
  });

  it('stops on an ill-typed value naming the key', () => {
    expect(errorOf(() => loadConfig({ file: yamlFile('listeners:\n  mqtt:\n    port: abc\n') }))).toMatch(/^config: listeners\.mqtt\.port: /);
    expect(errorOf(() => loadConfig({ env: { PALISADE_LISTENERS_MQTT_PORT: '70000' } }))).toMatch(/^config: listeners\.mqtt\.port: /);
    expect(errorOf(() => loadConfig({ file: yamlFile('- a\n- b\n') }))).toMatch(/top level must be a mapping/);
    expect(errorOf(() => loadConfig({ file: '/nonexistent/palisade.yaml' }))).toMatch(/ENOENT/);
  });
});
