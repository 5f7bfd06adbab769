/** Starts a real gateway in this process on loopback port 0 with a fresh data dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config/load.ts';
import type { ConfigInput, PalisadeConfig } from '../../../src/config/schema.ts';
import { startGateway, type Gateway } from '../../../src/gateway.ts';

export interface TestGateway {
  gateway: Gateway;
  config: PalisadeConfig;
  dataDir: string;
  port(name: 'mqtt' | 'mqtts' | 'https' | 'coap' | 'coaps' | 'dns'): number;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export async function startTestGateway(overrides: DeepPartial<ConfigInput> = {}, dataDir?: string): Promise<TestGateway> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'palisade-test-'));
  const base: Record<string, unknown> = {
    dataDir: dir,
    hostnames: ['localhost', '127.0.0.1'],
    log: { level: 'silent' },
    listeners: { mqtt: { port: 0 }, mqtts: { port: 0, host: '127.0.0.1' }, https: { port: 0, host: '127.0.0.1' }, coap: { port: 0 }, coaps: { port: 0, host: '127.0.0.1' }, dns: { port: 0 } },
    mqtt: { sysIntervalSeconds: 0 },
  };
  const config = loadConfig({ overrides: merge(base, overrides) });
  const logger = pino({ level: 'silent' });
  let gateway = await startGateway(config, logger);
  const t: TestGateway = {
    get gateway() {
      return gateway;
    },
    config,
    dataDir: dir,
    port(name) {
      const l = gateway.listeners[name];
      if (!l) throw new Error(`listener ${name} not running`);
      return l.port;
    },
    async restart() {
      await gateway.stop();
      const again = loadConfig({ overrides: merge(merge(base, overrides), { listeners: { mqtt: { port: gateway.listeners.mqtt?.port ?? 0 } } }) });
      gateway = await startGateway(again, logger);
    },
    async stop() {
      await gateway.stop();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObj(v) && isObj(prev) ? merge(prev, v) : v;
  }
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
