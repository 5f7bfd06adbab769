/** TLS with client certificate: full handshakes + CONNECT/CONNACK/DISCONNECT per second. */
import type { TlsWorkerConfig } from '../lib/tls-worker.ts';
import { WorkerHost } from '../lib/worker-host.ts';
import { CpuWindow } from '../lib/proc.ts';
import { round } from '../lib/stats.ts';
import type { Scenario, ScenarioResult, Target } from '../lib/scenario.ts';

const WORKER = new URL('../lib/tls-worker.ts', import.meta.url);
const WORKERS = 2;

async function measure(target: Target, maxConnections: number, maxMs: number): Promise<ScenarioResult> {
  const t = target.mqtts;
  if (t === null) throw new Error('no TLS listener');
  const hosts = Array.from({ length: WORKERS }, (_, w) => {
    const cfg: TlsWorkerConfig = {
      host: t.host, port: t.port, caFile: t.caFile,
      lanes: t.clients.filter((_, i) => i % WORKERS === w),
      maxConnections: Math.ceil(maxConnections / WORKERS), maxMs,
    };
    return new WorkerHost(WORKER, cfg);
  });
  try {
    await Promise.all(hosts.map((h) => h.waitFor('ready', 10_000)));
    const cpuWindow = new CpuWindow(target.pid);
    for (const h of hosts) h.send({ type: 'start' });
    const done = await Promise.all(hosts.map((h) => h.waitFor('done', maxMs + 20_000)));
    const cpu = cpuWindow.read();
    const ok = done.reduce((a, d) => a + (d.ok as number), 0);
    const failed = done.reduce((a, d) => a + (d.failed as number), 0);
    const firstError = done.map((d) => d.firstError as string).find((e) => e !== '') ?? '';
    if (ok === 0) throw new Error(`no TLS connection succeeded: ${firstError}`);
    const elapsed = Math.max(...done.map((d) => d.elapsedMs as number)) / 1000;
    return {
      metrics: { rate: round(ok / elapsed, 1) },
      details: {
        connections: ok, failed, ...(firstError !== '' ? { firstError } : {}),
        concurrency: t.clients.length, certificates: `${t.source}, ${t.keyType}`,
        ...cpu,
      },
    };
  } finally {
    await Promise.all(hosts.map((h) => h.terminate()));
  }
}

export const tlsConnect: Scenario = {
  id: 'tls-connect',
  title: 'TLS with client certificate, connections/s',
  method: 'Full TLS handshake with a client certificate (no session resumption) + CONNECT + CONNACK + DISCONNECT, 8 in parallel (one certificate and client id per lane, over two worker threads), for 10 s or 2,000 connections.',
  metrics: [{ key: 'rate', label: 'conn/s', unit: 'conn/s', higherIsBetter: true }],
  noDelay: true,
  trials: () => 1,
  run: (target, o) => measure(target, o.quick ? 600 : 2000, o.quick ? 3000 : 10_000),
};
