/**
 * Publisher worker: holds several publisher connections and floods them, QoS 0 in pre-built
 * batches (one write per batch, paced only by socket back-pressure) or QoS 1 with a window of
 * in-flight packet ids per connection. Bounded by `maxMessages` per connection and `maxMs`.
 *
 * Messages: → ready | error ; ← start ; ← stop ; → done { sent[], acked[] }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { QoS } from 'mqtt-packet';
import { RawMqttClient, type Endpoint } from './client.ts';
import { PublishTemplate } from './wire.ts';
import { sleep } from './clock.ts';

export interface PublisherConfig {
  endpoint: Endpoint;
  clients: Array<{ clientId: string; topic: string }>;
  qos: QoS;
  payloadSize: number;
  /** QoS 0: messages per write. */
  batch: number;
  /** QoS 1: unacknowledged messages allowed per connection. */
  window: number;
  maxMessages: number;
  maxMs: number;
}

interface Pub {
  client: RawMqttClient;
  sent: number;
  acked: number;
  inflight: number;
  start(): void;
}

const cfg = workerData as PublisherConfig;
const port = parentPort!;
let running = false;

function qos0(client: RawMqttClient, topic: string): Pub {
  const batch = new PublishTemplate(topic, 0, cfg.payloadSize).fill(cfg.batch);
  const pub: Pub = { client, sent: 0, acked: 0, inflight: 0, start: () => pump() };
  const pump = (): void => {
    for (let writes = 0; running && pub.sent < cfg.maxMessages && !client.closed; writes++) {
      if (writes === 16) { setImmediate(pump); return; }
      pub.sent += cfg.batch;
      if (!client.socket.write(batch)) { client.socket.once('drain', pump); return; }
    }
  };
  return pub;
}

function qos1(client: RawMqttClient, topic: string): Pub {
  const tmpl = new PublishTemplate(topic, 1, cfg.payloadSize);
  const busy = new Uint8Array(65536);
  let nextId = 1;
  const allocId = (): number => {
    while (busy[nextId] === 1) nextId = nextId === 65535 ? 1 : nextId + 1;
    const id = nextId;
    busy[id] = 1;
    nextId = nextId === 65535 ? 1 : nextId + 1;
    return id;
  };
  const pub: Pub = { client, sent: 0, acked: 0, inflight: 0, start: () => refill() };
  const refill = (): void => {
    if (!running || client.closed) return;
    const n = Math.min(cfg.window - pub.inflight, cfg.maxMessages - pub.sent);
    if (n <= 0) return;
    pub.inflight += n;
    pub.sent += n;
    client.socket.write(tmpl.fill(n, allocId));
  };
  client.onPuback = (id) => {
    if (busy[id] !== 1) return;
    busy[id] = 0;
    pub.inflight--;
    pub.acked++;
  };
  client.onChunkEnd = refill;
  return pub;
}

async function main(): Promise<void> {
  const pubs: Pub[] = [];
  try {
    for (const c of cfg.clients) {
      const client = await RawMqttClient.connect(cfg.endpoint, { clientId: c.clientId, keepalive: 600 });
      pubs.push(cfg.qos === 0 ? qos0(client, c.topic) : qos1(client, c.topic));
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: `publisher connect: ${(e as Error).message}` });
    for (const p of pubs) p.client.socket.destroy();
    return;
  }
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { stopped = resolve; });
  port.on('message', (m: { type: string }) => {
    if (m.type === 'start') {
      running = true;
      for (const p of pubs) p.start();
      setTimeout(stopped, cfg.maxMs).unref();
    } else if (m.type === 'stop') {
      stopped();
    }
  });
  port.postMessage({ type: 'ready' });
  await done;
  running = false;
  // Let QoS 1 windows drain so `acked` is final (bounded).
  for (let i = 0; i < 60 && pubs.some((p) => p.inflight > 0 && !p.client.closed); i++) await sleep(50);
  const result = { type: 'done', sent: pubs.map((p) => p.sent), acked: pubs.map((p) => p.acked), disconnected: pubs.filter((p) => p.client.closed).length };
  await Promise.all(pubs.map((p) => p.client.close()));
  port.postMessage(result);
  port.close();
}

void main();
