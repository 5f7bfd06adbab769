/**
 * Palisade from this checkout: `node src/cli/main.ts start` with a bench config (anonymous
 * plain listener mapped to segment `bench`, mqtts with client certificates, policy on).
 * It writes <data-dir>/ports.json once listening.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BrokerLauncher, LaunchContext } from './types.ts';
import { spawnBroker, waitForPort } from './process.ts';
import { sleep } from '../clock.ts';

const CONFIG = `log: { level: warn }
listeners:
  mqtt: { port: 0, anonymous: { segment: bench } }
  mqtts: { port: 0, host: 127.0.0.1 }
  https: { enabled: false }
  coap: { enabled: false }
  coaps: { enabled: false }
# Mosquitto and Aedes have no rate limits: the shield's buckets still run here, but are set so
# they never bind (a load generator is one address and a few clients sending as fast as they can).
shield:
  maxConnectionsPerAddress: 20000
  maxConnections: 50000
  connectionRate: { perAddressPerSecond: 1000000, perAddressBurst: 1000000, globalPerSecond: 1000000, globalBurst: 1000000 }
  rateLimit: { device: { messagesPerSecond: 1.0e12, messagesBurst: 1.0e12, bytesPerSecond: 1.0e15, bytesBurst: 1.0e15 } }
mqtt: { maxInflight: 64, receiveMaximum: 64, maxQueuedMessages: 10000 }
policy:
  segments:
    bench: { publish: ['bench/#'], subscribe: ['bench/#'] }
`;

interface PortsFile {
  mqtt?: { host: string; port: number };
  mqtts?: { host: string; port: number };
}

export function palisadePaths(ctx: Pick<LaunchContext, 'workDir' | 'repoRoot'>): { cli: string; config: string; dataDir: string; credsDir: string } {
  return {
    cli: path.join(ctx.repoRoot, 'src/cli/main.ts'),
    config: path.join(ctx.workDir, 'palisade.yaml'),
    dataDir: path.join(ctx.workDir, 'palisade-data'),
    credsDir: path.join(ctx.workDir, 'palisade-creds'),
  };
}

/** Runs a Palisade CLI command to completion (bounded), returning its output. */
export async function palisadeCli(ctx: Pick<LaunchContext, 'workDir' | 'repoRoot'>, args: string[], timeoutMs = 60_000): Promise<string> {
  const p = palisadePaths(ctx);
  if (!existsSync(p.cli)) throw new Error(`${p.cli} does not exist yet`);
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [p.cli, ...args], { cwd: ctx.repoRoot, timeout: timeoutMs });
  return `${stdout}${stderr}`;
}

export function writePalisadeConfig(ctx: Pick<LaunchContext, 'workDir' | 'repoRoot'>): void {
  const p = palisadePaths(ctx);
  mkdirSync(p.dataDir, { recursive: true });
  writeFileSync(p.config, CONFIG);
}

export const palisade: BrokerLauncher = {
  name: 'palisade',
  async start(ctx) {
    const p = palisadePaths(ctx);
    if (!existsSync(p.cli)) throw new Error(`${path.relative(ctx.repoRoot, p.cli)} does not exist yet`);
    writePalisadeConfig(ctx);
    const portsFile = path.join(p.dataDir, 'ports.json');
    rmSync(portsFile, { force: true });
    const proc = spawnBroker(process.execPath, [...(ctx.nodeFlags ?? []), p.cli, 'start', '--config', p.config, '--data-dir', p.dataDir], { cwd: ctx.repoRoot });
    try {
      const deadline = Date.now() + 30_000;
      let ports: PortsFile | null = null;
      while (ports === null) {
        if (proc.exited()) throw new Error(`exited before listening: ${proc.output().slice(-800) || '(no output)'}`);
        if (Date.now() > deadline) throw new Error(`no ports.json after 30 s: ${proc.output().slice(-800)}`);
        if (existsSync(portsFile)) {
          try { ports = JSON.parse(readFileSync(portsFile, 'utf8')) as PortsFile; } catch { /* partially written */ }
        }
        if (ports === null) await sleep(50);
      }
      if (ports.mqtt === undefined) throw new Error('ports.json has no mqtt listener');
      const mqtt = { host: '127.0.0.1', port: ports.mqtt.port };
      await waitForPort(mqtt.host, mqtt.port, 10_000, proc);
      const mqtts = ports.mqtts !== undefined ? { host: '127.0.0.1', port: ports.mqtts.port } : null;
      return { name: 'palisade', pid: proc.pid, mqtt, mqtts, tls: ctx.tls, stop: () => proc.stop() };
    } catch (e) {
      await proc.stop();
      throw e;
    }
  },
};
