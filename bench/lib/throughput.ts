/**
 * Shared driver for the fan-in and fan-out scenarios: subscriber workers first, then publisher
 * workers; publishers flood for warm-up + window; the rate is what the subscribers received
 * inside the window. Broker and generator CPU are read over the same window.
 */
import type { QoS } from 'mqtt-packet';
import type { Endpoint } from './client.ts';
import type { Credentials } from './wire.ts';
import type { PublisherConfig } from './publisher-worker.ts';
import type { Sample, SubscriberConfig } from './subscriber-worker.ts';
import { WorkerHost } from './worker-host.ts';
import { FlowTable } from './flow.ts';
import { nowMs, sleep } from './clock.ts';
import { CpuWindow } from './proc.ts';
import { countAt, round } from './stats.ts';
import type { ScenarioResult } from './scenario.ts';

export interface ThroughputSpec {
  qos: QoS;
  publishers: Array<{ clientId: string; topic: string } & Credentials>;
  subscribers: Array<{ clientId: string; filter: string } & Credentials>;
  pubWorkers: number;
  subWorkers: number;
  /** How many subscribers each published message matches. */
  fanout: number;
  payloadSize: number;
  /** QoS 0: messages per write. */
  batch: number;
  /** QoS 1: unacknowledged messages per publisher. */
  window: number;
  /** Messages a publisher may run ahead of its slowest subscriber (0: unlimited). */
  e2eWindow: number;
  warmupMs: number;
  windowMs: number;
  /** Safety bound on messages per publisher connection. */
  maxMessagesPerPublisher: number;
  /** How long subscribers may keep draining after the publishers stop (default 8 s). */
  drainMaxMs?: number;
}

const PUB_WORKER = new URL('./publisher-worker.ts', import.meta.url);
const SUB_WORKER = new URL('./subscriber-worker.ts', import.meta.url);

/** Contiguous slices, so each worker's items have consecutive global indices. */
function split<T>(items: T[], parts: number): Array<{ base: number; items: T[] }> {
  const size = Math.ceil(items.length / parts);
  const out: Array<{ base: number; items: T[] }> = [];
  for (let base = 0; base < items.length; base += size) out.push({ base, items: items.slice(base, base + size) });
  return out;
}

export async function runThroughput(endpoint: Endpoint, brokerPid: number, spec: ThroughputSpec): Promise<ScenarioResult> {
  const runMs = spec.warmupMs + spec.windowMs;
  const hardMs = runMs + 30_000;
  const hosts: WorkerHost[] = [];
  try {
    const table = new FlowTable(spec.publishers.length, spec.subscribers.length);
    const flow = { buffer: table.buffer, publishers: table.publishers, subscribers: table.subscribers };
    const subs = split(spec.subscribers, spec.subWorkers).map(({ base, items: clients }) => {
      const cfg: SubscriberConfig = { endpoint, clients, indexBase: base, flow, qos: spec.qos, sampleMs: 100, maxMs: hardMs };
      return new WorkerHost(SUB_WORKER, cfg);
    });
    hosts.push(...subs);
    await Promise.all(subs.map((s) => s.waitFor('ready', 30_000)));
    const pubs = split(spec.publishers, spec.pubWorkers).map(({ base, items: clients }) => {
      const cfg: PublisherConfig = {
        endpoint, clients, indexBase: base, qos: spec.qos, payloadSize: spec.payloadSize, batch: spec.batch,
        window: spec.window, e2eWindow: spec.e2eWindow, flow, maxMessages: spec.maxMessagesPerPublisher, maxMs: runMs + 5_000,
      };
      return new WorkerHost(PUB_WORKER, cfg);
    });
    hosts.push(...pubs);
    await Promise.all(pubs.map((p) => p.waitFor('ready', 30_000)));

    const tStart = nowMs();
    for (const p of pubs) p.send({ type: 'start' });
    await sleep(spec.warmupMs);
    const t0 = nowMs();
    const cpuWindow = new CpuWindow(brokerPid);
    const elu0 = hosts.map((h) => h.elu());
    await sleep(spec.windowMs);
    const t1 = nowMs();
    const cpu = cpuWindow.read();
    // How busy each generator thread was: near 1.0 would mean the generator, not the broker, limits.
    const busiest = (ws: WorkerHost[]): number => round(Math.max(0, ...ws.map((w) => w.elu(elu0[hosts.indexOf(w)]).utilization)), 2);
    const threads = { pubThreadBusy: busiest(pubs), subThreadBusy: busiest(subs) };
    for (const p of pubs) p.send({ type: 'stop' });
    const tStop = nowMs();
    const pubDone = await Promise.all(pubs.map((p) => p.waitFor('done', 15_000)));
    for (const s of subs) s.send({ type: 'finish', quietMs: Number(process.env.BENCH_QUIET_MS ?? 400), maxWaitMs: spec.drainMaxMs ?? 8_000 });
    const subDone = await Promise.all(subs.map((s) => s.waitFor('done', 20_000)));

    let inWindow = 0;
    let delivered = 0;
    let minPerSubscriber = Number.POSITIVE_INFINITY;
    let subDisconnects = 0;
    for (const d of subDone) {
      const samples = d.samples as Sample[];
      inWindow += countAt(samples, t1) - countAt(samples, t0);
      delivered += d.total as number;
      subDisconnects += d.disconnected as number;
      for (const c of d.counts as number[]) minPerSubscriber = Math.min(minPerSubscriber, c);
    }
    const sentPer = pubDone.flatMap((d) => d.sent as number[]);
    const published = sentPer.reduce((a, b) => a + b, 0);
    // Messages never reached by the slowest subscriber's progress: still queued/stuck at the end.
    const tail = spec.subscribers.length === 0 ? 0 : sentPer.reduce((a, n, p) => a + Math.max(0, n - table.settled(p)), 0);
    const pubDisconnects = pubDone.reduce((a, d) => a + (d.disconnected as number), 0);
    const stalls = pubDone.reduce((a, d) => a + (d.stalls as number), 0);
    const expected = published * spec.fanout;
    const rate = inWindow / ((t1 - t0) / 1000);
    return {
      // Broker CPU per delivered message: insensitive to how much CPU the broker was given.
      metrics: { rate: round(rate), cpuUsPerMsg: round((cpu.brokerCpuCores * 1e6) / rate, 2) },
      details: {
        published, expected, delivered,
        offeredRate: round(published / ((tStop - tStart) / 1000)),
        lossPct: round(expected > 0 ? (100 * (expected - delivered)) / expected : 0, 2),
        unarrivedTail: tail,
        windowsWrittenOff: stalls,
        minPerSubscriber: Number.isFinite(minPerSubscriber) ? minPerSubscriber : 0,
        ...cpu,
        ...threads,
        disconnects: subDisconnects + pubDisconnects,
      },
    };
  } finally {
    await Promise.all(hosts.map((h) => h.terminate()));
  }
}
