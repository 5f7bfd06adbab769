/** Debian's mosquitto on two loopback listeners: plain (anonymous) and TLS with client certs. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrokerLauncher } from './types.ts';
import { freePort, spawnBroker, waitForPort } from './process.ts';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

/**
 * Mosquitto 2.0.11 (Debian) drops QoS 1 messages ("Outgoing messages are being dropped") under
 * fan-in load with `max_queued_messages 10000` even though the generator's end-to-end window
 * keeps at most 10,000 messages in flight, so its queue count overshoots. The default is
 * therefore 0 (unlimited; the window still bounds the real queue). BENCH_MOSQUITTO_MAX_QUEUED=10000
 * reproduces the configuration that matches Palisade's `maxQueuedMessages` literally.
 */
export const MOSQUITTO_MAX_QUEUED = Number(process.env.BENCH_MOSQUITTO_MAX_QUEUED ?? 0);

export const mosquitto: BrokerLauncher = {
  name: 'mosquitto',
  async start(ctx) {
    const host = '127.0.0.1';
    const port = await freePort();
    const tlsPort = ctx.tls !== null ? await freePort() : 0;
    const lines = [
      // Mosquitto drops root privileges to the `mosquitto` user unless told otherwise; it must
      // keep reading the certificates in our private scratch directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      `max_queued_messages ${MOSQUITTO_MAX_QUEUED}`,
      'max_inflight_messages 64',
      `set_tcp_nodelay ${ctx.noDelay === true}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      `listener ${port} ${host}`,
      'max_connections -1',
    ];
    if (ctx.tls !== null) {
      lines.push(
        `listener ${tlsPort} ${host}`,
        'max_connections -1',
        `cafile ${ctx.tls.caFile}`,
        `certfile ${ctx.tls.serverCertFile}`,
        `keyfile ${ctx.tls.serverKeyFile}`,
        'require_certificate true',
        'use_identity_as_username true',
      );
    }
    const conf = path.join(ctx.workDir, 'mosquitto.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const proc = spawnBroker(MOSQUITTO_BIN, ['-c', conf]);
    try {
      await waitForPort(host, port, 10_000, proc);
      if (ctx.tls !== null) await waitForPort(host, tlsPort, 10_000, proc);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return {
      name: 'mosquitto', pid: proc.pid, mqtt: { host, port },
      mqtts: ctx.tls !== null ? { host, port: tlsPort } : null, tls: ctx.tls,
      stop: () => proc.stop(),
    };
  },
};
