/**
 * Publisher worker: holds several publisher connections and floods them. QoS 0 goes out in
 * batches (one write per batch, paced by socket back-pressure); QoS 1 keeps a window of in-flight
 * packet ids per connection. With a flow table, each publisher also stays at most `e2eWindow`
 * messages ahead of its slowest subscriber. Bounded by `maxMessages` per connection and `maxMs`.
 *
 * Messages: → ready | error ; ← start ; ← stop ; → done { sent[], acked[], stalls, disconnected }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { QoS } from 'mqtt-packet';
import { RawMqttClient, type Endpoint } from './client.ts';
import { FlowTable } from './flow.ts';
import { PublishTemplate, type Credentials } from './wire.ts';
import { sleep } from './clock.ts';

export interface PublisherConfig {
  endpoint: Endpoint;
  clients: Array<{ clientId: string; topic: string } & Credentials>;
  /** Global publisher index of `clients[0]` (stamped into payloads for the flow table). */
  indexBase: number;
  qos: QoS;
  payloadSize: number;
  /** QoS 0: messages per write. */
  batch: number;
  /** QoS 1: unacknowledged messages allowed per connection. */
  window: number;
  /** Messages a publisher may be ahead of its slowest subscriber; 0 disables the flow table. */
  e2eWindow: number;
  flow: { buffer: SharedArrayBuffer; publishers: number; subscribers: number } | null;
  maxMessages: number;
  maxMs: number;
}

interface Pub {
  client: RawMqttClient;
  index: number;
  sent: number;
  acked: number;
  inflight: number;
  /** Flow-window bookkeeping: see `allowance`. */
  skipTo: number;
  lastSettled: number;
  blockedSince: number;
  receivedAtBlock: number;
  stalls: number;
  start(): void;
}

/** A window with no progress for this long is written off even if nothing else moves either. */
const STALL_MS = 2000;

const cfg = workerData as PublisherConfig;
const port = parentPort!;
const flow = cfg.flow !== null && cfg.e2eWindow > 0 ? new FlowTable(cfg.flow.publishers, cfg.flow.subscribers, cfg.flow.buffer) : null;
let running = false;

/**
 * How many more messages publisher `p` may send now. If the window is full and, since it filled,
 * the subscribers have received more than everything that can be in flight (all publishers'
 * windows, twice) without this publisher's progress moving, the broker has dropped the window's
 * tail (nothing later exists to skip over it): write it off and carry on, counting a stall.
 * STALL_MS is the fallback for a broker that delivers nothing at all.
 */
function allowance(p: Pub): number {
  const left = cfg.maxMessages - p.sent;
  if (flow === null) return left;
  const settled = flow.settled(p.index);
  const n = Math.min(left, Math.max(settled, p.skipTo) + cfg.e2eWindow - p.sent);
  if (n > 0 || settled !== p.lastSettled) {
    p.lastSettled = settled;
    p.blockedSince = 0;
    return n;
  }
  const now = performance.now();
  if (p.blockedSince === 0) {
    p.blockedSince = now;
    p.receivedAtBlock = flow.minReceived();
  } else if (flow.minReceived() - p.receivedAtBlock > 2 * flow.publishers * cfg.e2eWindow || now - p.blockedSince > STALL_MS) {
    p.skipTo = p.sent;
    p.blockedSince = 0;
    p.stalls++;
    return Math.min(left, cfg.e2eWindow);
  }
  return n;
}

function newPub(client: RawMqttClient, index: number, start: () => void): Pub {
  return { client, index, sent: 0, acked: 0, inflight: 0, skipTo: 0, lastSettled: 0, blockedSince: 0, receivedAtBlock: 0, stalls: 0, start };
}

function stamper(tmpl: PublishTemplate, p: Pub, ids?: () => number): (out: Buffer, base: number, i: number) => void {
  return (out, base, i) => {
    out.writeUInt32BE(p.sent + i, base + tmpl.payloadOffset);
    out.writeUInt16BE(p.index, base + tmpl.payloadOffset + 4);
    if (ids !== undefined) out.writeUInt16BE(ids(), base + tmpl.idOffset);
  };
}

function qos0(client: RawMqttClient, topic: string, index: number): Pub {
  const tmpl = new PublishTemplate(topic, 0, cfg.payloadSize);
  const pub = newPub(client, index, () => pump());
  const stamp = stamper(tmpl, pub);
  const pump = (): void => {
    for (let writes = 0; running && !client.closed; writes++) {
      if (writes === 16) { setImmediate(pump); return; }
      const n = Math.min(cfg.batch, allowance(pub));
      if (n <= 0) {
        if (pub.sent < cfg.maxMessages) setTimeout(pump, 1);
        return;
      }
      const buf = tmpl.fill(n, stamp);
      pub.sent += n;
      if (!client.socket.write(buf)) { client.socket.once('drain', pump); return; }
    }
  };
  return pub;
}

function qos1(client: RawMqttClient, topic: string, index: number): Pub {
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
  const pub = newPub(client, index, () => refill());
  const stamp = stamper(tmpl, pub, allocId);
  let timer: NodeJS.Timeout | null = null;
  const refill = (): void => {
    if (!running || client.closed) return;
    const n = Math.min(cfg.window - pub.inflight, allowance(pub));
    if (n <= 0) {
      // Window full: PUBACKs will call us. Flow-limited with nothing in flight: poll.
      if (pub.inflight === 0 && timer === null && pub.sent < cfg.maxMessages) timer = setTimeout(() => { timer = null; refill(); }, 1);
      return;
    }
    const buf = tmpl.fill(n, stamp);
    pub.inflight += n;
    pub.sent += n;
    client.socket.write(buf);
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
    for (const [i, c] of cfg.clients.entries()) {
      const client = await RawMqttClient.connect(cfg.endpoint, { ...c, keepalive: 600 });
      pubs.push(cfg.qos === 0 ? qos0(client, c.topic, cfg.indexBase + i) : qos1(client, c.topic, cfg.indexBase + i));
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
  const result = { type: 'done', sent: pubs.map((p) => p.sent), acked: pubs.map((p) => p.acked), stalls: pubs.reduce((a, p) => a + p.stalls, 0), disconnected: pubs.filter((p) => p.client.closed).length };
  await Promise.all(pubs.map((p) => p.client.close()));
  port.postMessage(result);
  port.close();
}

void main();
