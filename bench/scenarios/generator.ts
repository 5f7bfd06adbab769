/**
 * Generator calibration: the same publisher and subscriber workers against bench/peers/null-broker.ts,
 * which routes nothing. The figures are what the generator can push and absorb on this machine
 * while sharing it with a (trivial) peer, i.e. lower bounds on its ceiling.
 */
import path from 'node:path';
import type { QoS } from 'mqtt-packet';
import { freePort, spawnBroker } from '../lib/brokers/process.ts';
import { runThroughput, type ThroughputSpec } from '../lib/throughput.ts';
import { measureIdleMemory } from './memory.ts';

export interface CalibrationRow {
  id: string;
  label: string;
  rate: number;
  generatorCpuCores: number;
  peerCpuCores: number;
}

interface Case {
  id: string;
  label: string;
  mode: 'sink' | 'blast';
  qos: QoS;
  publishers: number;
  subscribers: number;
}

const CASES: Case[] = [
  { id: 'pub-qos0', label: '10 publishers in 2 workers, QoS 0 → sink (msg/s sent)', mode: 'sink', qos: 0, publishers: 10, subscribers: 0 },
  { id: 'pub-qos1', label: '10 publishers in 2 workers, QoS 1, window 64 → acking sink (msg/s sent)', mode: 'sink', qos: 1, publishers: 10, subscribers: 0 },
  { id: 'sub-1', label: '1 subscriber ← blaster (msg/s received)', mode: 'blast', qos: 0, publishers: 0, subscribers: 1 },
  { id: 'sub-100', label: '100 subscribers in 2 workers ← blaster (msg/s received)', mode: 'blast', qos: 0, publishers: 0, subscribers: 100 },
];

/**
 * Node's floor for idle connections: the null broker (a net server that answers CONNECT and
 * keeps a scanner per socket) holding the same 10,000 connections as the memory scenario.
 */
async function memoryFloor(repoRoot: string, count: number): Promise<CalibrationRow> {
  const port = await freePort();
  const peer = spawnBroker(process.execPath, [path.join(repoRoot, 'bench/peers/null-broker.ts'), String(port), 'sink'], { cwd: repoRoot });
  try {
    await peer.waitForOutput('READY', 10_000);
    const r = await measureIdleMemory({ pid: peer.pid, mqtt: { host: '127.0.0.1', port } }, count);
    return { id: 'memory-floor', label: `bare Node.js net server holding ${count.toLocaleString('en-US')} idle connections (KiB/conn)`, rate: r.metrics.kibPerConn!, generatorCpuCores: 0, peerCpuCores: 0 };
  } finally {
    await peer.stop();
  }
}

/** `beforeEach` runs before every case (the runner waits there for a quiet machine). */
export async function calibrate(repoRoot: string, quick: boolean, beforeEach: () => Promise<unknown> = async () => undefined): Promise<CalibrationRow[]> {
  await beforeEach();
  const rows: CalibrationRow[] = [await memoryFloor(repoRoot, quick ? 5000 : 10_000)];
  for (const c of CASES) {
    const port = await freePort();
    const peer = spawnBroker(process.execPath, [path.join(repoRoot, 'bench/peers/null-broker.ts'), String(port), c.mode, String(c.subscribers)], { cwd: repoRoot });
    try {
      await peer.waitForOutput('READY', 10_000);
      await beforeEach();
      const spec: ThroughputSpec = {
        qos: c.qos,
        publishers: Array.from({ length: c.publishers }, (_, i) => ({ clientId: `cal-pub-${i}`, topic: `bench/${i}/t` })),
        subscribers: Array.from({ length: c.subscribers }, (_, i) => ({ clientId: `cal-sub-${i}`, filter: 'bench/fan/t' })),
        pubWorkers: c.publishers > 1 ? 2 : 1,
        subWorkers: c.subscribers > 1 ? 2 : 1,
        fanout: 0,
        payloadSize: 32,
        batch: 100,
        window: 64,
      e2eWindow: 0,
        warmupMs: 1000,
        windowMs: quick ? 1500 : 3000,
        maxMessagesPerPublisher: 100_000_000,
        drainMaxMs: 0,
      };
      const r = await runThroughput({ host: '127.0.0.1', port }, peer.pid, spec);
      rows.push({
        id: c.id, label: c.label,
        rate: c.publishers > 0 ? (r.details.offeredRate as number) : r.metrics.rate!,
        generatorCpuCores: r.details.generatorCpuCores as number,
        peerCpuCores: r.details.brokerCpuCores as number,
      });
    } finally {
      await peer.stop();
    }
  }
  return rows;
}
