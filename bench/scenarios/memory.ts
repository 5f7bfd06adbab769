/** Broker memory for 10,000 idle MQTT connections: VmRSS after minus VmRSS before. */
import { RawMqttClient } from '../lib/client.ts';
import { sleep } from '../lib/clock.ts';
import { rssKiB } from '../lib/proc.ts';
import { round } from '../lib/stats.ts';
import type { Scenario, ScenarioResult, Target } from '../lib/scenario.ts';

const CONCURRENCY = 100;

/** `whileConnected` runs after the reading, with every connection still open (heap snapshots). */
export async function measureIdleMemory(target: Pick<Target, 'pid' | 'mqtt'>, count: number, whileConnected?: () => Promise<void>): Promise<ScenarioResult> {
  await sleep(1000);
  const before = rssKiB(target.pid);
  const clients: RawMqttClient[] = [];
  const deadline = Date.now() + 120_000;
  let next = 0;
  let failure: Error | null = null;
  const t0 = Date.now();
  const lane = async (): Promise<void> => {
    while (next < count && failure === null) {
      if (Date.now() > deadline) { failure = new Error(`only ${clients.length} connected after 120 s`); return; }
      const i = next++;
      try {
        clients.push(await RawMqttClient.connect(target.mqtt, { clientId: `idle-${i}`, keepalive: 600, noDelay: false }));
      } catch (e) {
        failure = new Error(`connection ${i}: ${(e as Error).message}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    if (failure !== null) throw failure as Error;
    const connectSeconds = (Date.now() - t0) / 1000;
    await sleep(2000);
    const after = rssKiB(target.pid);
    const alive = clients.filter((c) => !c.closed).length;
    if (alive < count) throw new Error(`${count - alive} of ${count} connections were closed by the broker while idle`);
    const deltaKiB = after - before;
    if (whileConnected !== undefined) await whileConnected();
    return {
      metrics: { mib: round(deltaKiB / 1024, 1), kibPerConn: round(deltaKiB / count, 2) },
      details: { connections: count, rssBeforeMiB: round(before / 1024, 1), rssAfterMiB: round(after / 1024, 1), connectPerSec: round(count / connectSeconds) },
    };
  } finally {
    for (let i = 0; i < clients.length; i += 1000) await Promise.all(clients.slice(i, i + 1000).map((c) => c.close(3000)));
  }
}

export const memory: Scenario = {
  id: 'memory-idle',
  title: 'Memory for 10,000 idle connections',
  method: 'Broker VmRSS (from /proc) 2 s after 10,000 MQTT 3.1.1 clients (keepalive 600 s, clean session, no subscriptions) have connected, minus VmRSS before; connections opened 100 at a time.',
  metrics: [
    { key: 'mib', label: 'MiB', unit: 'MiB', higherIsBetter: false },
    { key: 'kibPerConn', label: 'KiB/conn', unit: 'KiB', higherIsBetter: false },
  ],
  trials: () => 1,
  run: (target, o) => measureIdleMemory(target, o.quick ? 5000 : 10_000),
};
