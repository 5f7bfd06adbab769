/**
 * Latency at a fixed 1,000 msg/s: one publisher, one subscriber (same process, same monotonic
 * clock); the payload carries process.hrtime.bigint() at send time.
 */
import type { QoS } from 'mqtt-packet';
import { RawMqttClient } from '../lib/client.ts';
import { PublishTemplate, publishPayloadOffset, publishPacketId, pubackPacket } from '../lib/wire.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import { percentile, round } from '../lib/stats.ts';
import { CpuWindow } from '../lib/proc.ts';
import type { Scenario, ScenarioResult, Target } from '../lib/scenario.ts';

const RATE = 1000;

async function measure(target: Target, qos: QoS, warmupMs: number, measureMs: number): Promise<ScenarioResult> {
  const topic = `bench/lat${qos}/t`;
  const sub = await RawMqttClient.connect(target.mqtt, { clientId: `lat-sub-${qos}`, noDelay: true });
  const pub = await RawMqttClient.connect(target.mqtt, { clientId: `lat-pub-${qos}`, noDelay: true }).catch(async (e: unknown) => {
    sub.socket.destroy();
    throw e;
  });
  try {
    await sub.subscribe(topic, qos);
    const total = Math.round((RATE * (warmupMs + measureMs)) / 1000);
    const warmupCount = Math.round((RATE * warmupMs) / 1000);
    const latenciesUs = new Float64Array(total);
    const seen = new Uint8Array(total);
    let received = 0;
    let measured = 0;
    sub.onPublish = (buf, flags, start) => {
      const at = process.hrtime.bigint();
      const off = publishPayloadOffset(buf, flags, start);
      const seq = buf.readUInt32BE(off + 8);
      if (seq >= total || seen[seq] === 1) return;
      seen[seq] = 1;
      received++;
      if (seq >= warmupCount) latenciesUs[measured++] = Number(at - buf.readBigUInt64BE(off)) / 1000;
      if ((flags & 0x06) !== 0) sub.socket.write(pubackPacket(publishPacketId(buf, start)));
    };
    const tmpl = new PublishTemplate(topic, qos, 12);
    let sent = 0;
    const cpuWindow = new CpuWindow(target.pid);
    const t0 = nowMs();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((nowMs() - t0) * RATE) / 1000));
        while (sent < due) {
          const b = Buffer.from(tmpl.bytes);
          if (qos > 0) b.writeUInt16BE((sent % 65535) + 1, tmpl.idOffset);
          b.writeBigUInt64BE(process.hrtime.bigint(), tmpl.payloadOffset);
          b.writeUInt32BE(sent, tmpl.payloadOffset + 8);
          pub.socket.write(b);
          sent++;
        }
        if (sent >= total || nowMs() - t0 > warmupMs + measureMs + 5000) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    const cpu = cpuWindow.read();
    for (let i = 0; i < 40 && received < sent; i++) await sleep(50);
    const lat = latenciesUs.slice(0, measured).sort();
    return {
      metrics: { p50: round(percentile(lat, 50) / 1000, 3), p99: round(percentile(lat, 99) / 1000, 3) },
      details: {
        sent, received, lost: sent - received, measured,
        p999Ms: round(percentile(lat, 99.9) / 1000, 3), maxMs: round((lat[lat.length - 1] ?? Number.NaN) / 1000, 3),
        ...cpu,
      },
    };
  } finally {
    await Promise.all([sub.close(), pub.close()]);
  }
}

function latency(qos: QoS): Scenario {
  return {
    id: `latency-qos${qos}`,
    title: `Latency at 1,000 msg/s, QoS ${qos}`,
    method: `One publisher sends 1,000 msg/s (12-byte payload: hrtime + sequence) to one subscriber at QoS ${qos}, both in one process; latency from the send stamp to the subscriber's read, first second discarded.`,
    metrics: [
      { key: 'p50', label: 'p50 ms', unit: 'ms', higherIsBetter: false },
      { key: 'p99', label: 'p99 ms', unit: 'ms', higherIsBetter: false },
    ],
    noDelay: true,
    trials: () => 1,
    run: (target, o) => measure(target, qos, 1000, o.quick ? 2000 : 10_000),
  };
}

export const latencyQos0 = latency(0);
export const latencyQos1 = latency(1);
