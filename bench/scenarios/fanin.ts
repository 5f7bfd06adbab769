/** Fan-in: 10 publishers on bench/<i>/t, one subscriber on the wildcard bench/+/t. */
import type { QoS } from 'mqtt-packet';
import type { Scenario } from '../lib/scenario.ts';
import { runThroughput } from '../lib/throughput.ts';

const PUBLISHERS = 10;

function fanin(qos: QoS): Scenario {
  return {
    id: `fanin-qos${qos}`,
    title: `Fan-in, QoS ${qos} (10 publishers → 1 wildcard subscriber)`,
    method: `${PUBLISHERS} publishers flood bench/<i>/t at QoS ${qos} (32-byte payload, ${qos === 0 ? 'batches of 100 per write' : '64 unacknowledged per publisher'}, each publisher at most 1,000 messages ahead of the subscriber); publishers in two worker threads; one subscriber on bench/+/t at QoS ${qos}; messages received per second after warm-up.`,
    metrics: [
      { key: 'rate', label: 'msg/s received', unit: 'msg/s', higherIsBetter: true },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/msg', unit: 'µs', higherIsBetter: false },
    ],
    trials: (o) => (o.quick ? 1 : 3),
    run: (target, o) => runThroughput(target.mqtt, target.pid, {
      qos,
      publishers: Array.from({ length: PUBLISHERS }, (_, i) => ({ clientId: `fanin-pub-${i}`, topic: `bench/${i}/t` })),
      subscribers: [{ clientId: 'fanin-sub', filter: 'bench/+/t' }],
      // Two publisher threads: against brokers that send one segment per PUBACK, a single
      // thread reading ten sockets' worth of tiny acknowledgements gets close to saturation.
      pubWorkers: 2,
      subWorkers: 1,
      fanout: 1,
      payloadSize: 32,
      batch: 100,
      window: 64,
      e2eWindow: 1000,
      warmupMs: o.quick ? 1000 : 1500,
      windowMs: o.quick ? 2000 : 4000,
      maxMessagesPerPublisher: 50_000_000,
    }),
  };
}

export const faninQos0 = fanin(0);
export const faninQos1 = fanin(1);
