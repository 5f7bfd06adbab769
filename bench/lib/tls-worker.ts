/**
 * TLS connect-rate worker: each lane repeatedly does a full TLS handshake with its own client
 * certificate (no session resumption), CONNECT, waits for CONNACK, sends DISCONNECT and waits
 * for the close. Bounded by `maxConnections` and `maxMs`.
 *
 * Messages: → ready ; ← start ; → done { ok, failed, firstError, elapsedMs }
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { RawMqttClient } from './client.ts';
import { nowMs } from './clock.ts';
import type { TlsClientIdentity } from './tls-material.ts';

export interface TlsWorkerConfig {
  host: string;
  port: number;
  caFile: string;
  /** One lane per identity. */
  lanes: TlsClientIdentity[];
  maxConnections: number;
  maxMs: number;
}

const cfg = workerData as TlsWorkerConfig;
const port = parentPort!;
const ca = readFileSync(cfg.caFile);

async function run(): Promise<void> {
  let started = 0;
  let ok = 0;
  let failed = 0;
  let firstError = '';
  const t0 = nowMs();
  const lane = async (id: TlsClientIdentity): Promise<void> => {
    const tls = { secureContext: createSecureContext({ ca, cert: readFileSync(id.certFile), key: readFileSync(id.keyFile) }) };
    while (started < cfg.maxConnections && nowMs() - t0 < cfg.maxMs) {
      started++;
      try {
        const c = await RawMqttClient.connect({ host: cfg.host, port: cfg.port, tls }, { clientId: id.clientId, keepalive: 60, timeoutMs: 5000 });
        await c.close(2000);
        ok++;
      } catch (e) {
        failed++;
        firstError ||= (e as Error).message;
        if (failed > 20 && ok === 0) return;
      }
    }
  };
  await Promise.all(cfg.lanes.map(lane));
  port.postMessage({ type: 'done', ok, failed, firstError, elapsedMs: nowMs() - t0 });
  port.close();
}

port.once('message', () => { void run(); });
port.postMessage({ type: 'ready' });
