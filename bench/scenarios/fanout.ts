/** Fan-out: one publisher on bench/fan/t, 100 subscribers of bench/fan/t. */
import type { QoS } from 'mqtt-packet';
import type { Scenario } from '../lib/scenario.ts';
import { runThroughput } from '../lib/throughput.ts';

const SUBSCRIBERS = 100;

function fanout(qos: QoS): Scenario {
  return {
    id: `fanout-qos${qos}`,
    title: `Fan-out, QoS ${qos} (1 publisher → 100 subscribers)`,
    method: `One publisher floods bench/fan/t at QoS ${qos} (32-byte payload, ${qos === 0 ? 'batches of 100 per write' : '64 unacknowledged'}, at most 1,000 messages ahead of the slowest subscriber); ${SUBSCRIBERS} subscribers of bench/fan/t at QoS ${qos} in two worker threads; deliveries per second summed over all subscribers after warm-up.`,
    metrics: [
      { key: 'rate', label: 'deliveries/s', unit: 'msg/s', higherIsBetter: true },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/delivery', unit: 'µs', higherIsBetter: false },
    ],
    trials: (o) => (o.quick ? 1 : 3),
    run: (target, o) => runThroughput(target.mqtt, target.pid, {
      qos,
      publishers: [{ clientId: 'fanout-pub', topic: 'bench/fan/t' }],
      subscribers: Array.from({ length: SUBSCRIBERS }, (_, i) => ({ clientId: `fanout-sub-${i}`, filter: 'bench/fan/t' })),
      pubWorkers: 1,
      subWorkers: 2,
      fanout: SUBSCRIBERS,
      payloadSize: 32,
      batch: 100,
      window: 64,
      e2eWindow: 1000,
      warmupMs: o.quick ? 1000 : 1500,
      windowMs: o.quick ? 2000 : 4000,
      maxMessagesPerPublisher: 5_000_000,
    }),
  };
}

export const fanoutQos0 = fanout(0);
export const fanoutQos1 = fanout(1);
