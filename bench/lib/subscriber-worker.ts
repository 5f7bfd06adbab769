/**
 * Subscriber worker: holds several subscriber connections, counts PUBLISH frames (acknowledging
 * QoS 1 ones in one write per received chunk), reports each publisher's progress in the shared
 * flow table, and samples the running total on a timer so the main thread can compute a rate
 * over any window. Bounded by `maxMs`.
 *
 * Messages: → ready | error ; ← finish { quietMs, maxWaitMs } ; → done { samples, counts, ... }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { QoS } from 'mqtt-packet';
import { RawMqttClient, type Endpoint } from './client.ts';
import { FLOW_HEADER_BYTES, publishPacketId, publishPayloadOffset, type Credentials } from './wire.ts';
import { FlowTable } from './flow.ts';
import { nowMs, sleep } from './clock.ts';

export interface SubscriberConfig {
  endpoint: Endpoint;
  clients: Array<{ clientId: string; filter: string } & Credentials>;
  /** Global subscriber index of `clients[0]` in the flow table. */
  indexBase: number;
  flow: { buffer: SharedArrayBuffer; publishers: number; subscribers: number } | null;
  qos: QoS;
  sampleMs: number;
  maxMs: number;
}

/** [time in ms from `nowMs()`, messages received so far by this worker] */
export type Sample = [number, number];

const cfg = workerData as SubscriberConfig;
const port = parentPort!;
let total = 0;
const flow = cfg.flow !== null ? new FlowTable(cfg.flow.publishers, cfg.flow.subscribers, cfg.flow.buffer) : null;

function attach(client: RawMqttClient, counts: number[], index: number): void {
  const acks = Buffer.allocUnsafe(4 * 1024);
  let ackLen = 0;
  const flush = (): void => {
    if (ackLen === 0) return;
    client.socket.write(Buffer.from(acks.subarray(0, ackLen)));
    ackLen = 0;
  };
  const subIndex = cfg.indexBase + index;
  client.onPublish = (buf, flags, start, end) => {
    counts[index]!++;
    total++;
    if (flow !== null) {
      const off = publishPayloadOffset(buf, flags, start);
      if (off + FLOW_HEADER_BYTES <= end) {
        const p = buf.readUInt16BE(off + 4);
        if (p < flow.publishers) flow.record(subIndex, p, buf.readUInt32BE(off));
      }
    }
    if ((flags & 0x06) !== 0) {
      const id = publishPacketId(buf, start);
      acks[ackLen] = 0x40;
      acks[ackLen + 1] = 0x02;
      acks[ackLen + 2] = id >> 8;
      acks[ackLen + 3] = id & 0xff;
      ackLen += 4;
      if (ackLen === acks.length) flush();
    }
  };
  client.onChunkEnd = flush;
}

async function main(): Promise<void> {
  const clients: RawMqttClient[] = [];
  const counts = cfg.clients.map(() => 0);
  try {
    for (const [i, c] of cfg.clients.entries()) {
      const client = await RawMqttClient.connect(cfg.endpoint, { ...c, keepalive: 600 });
      clients.push(client);
      attach(client, counts, i);
      await client.subscribe(c.filter, cfg.qos);
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: `subscriber connect: ${(e as Error).message}` });
    for (const c of clients) c.socket.destroy();
    return;
  }
  const samples: Sample[] = [[nowMs(), 0]];
  const sampler = setInterval(() => samples.push([nowMs(), total]), cfg.sampleMs);
  let finish: (m: { quietMs: number; maxWaitMs: number }) => void = () => undefined;
  const finishing = new Promise<{ quietMs: number; maxWaitMs: number }>((resolve) => { finish = resolve; });
  const hardStop = setTimeout(() => finish({ quietMs: 0, maxWaitMs: 0 }), cfg.maxMs);
  port.on('message', (m: { type: string; quietMs: number; maxWaitMs: number }) => {
    if (m.type === 'finish') finish(m);
  });
  port.postMessage({ type: 'ready' });
  const { quietMs, maxWaitMs } = await finishing;
  // Wait until nothing more arrives (messages still queued in the broker or the kernel).
  const deadline = nowMs() + maxWaitMs;
  let last = total;
  let quietSince = nowMs();
  while (nowMs() < deadline && nowMs() - quietSince < quietMs) {
    await sleep(25);
    if (total !== last) { last = total; quietSince = nowMs(); }
  }
  clearInterval(sampler);
  clearTimeout(hardStop);
  samples.push([nowMs(), total]);
  const disconnected = clients.filter((c) => c.closed).length;
  await Promise.all(clients.map((c) => c.close()));
  port.postMessage({ type: 'done', samples, counts, total, disconnected });
  port.close();
}

void main();
