/** Aedes in its own Node process (bench/peers/aedes-server.ts). */
import path from 'node:path';
import type { BrokerLauncher } from './types.ts';
import { freePort, spawnBroker } from './process.ts';

export const aedes: BrokerLauncher = {
  name: 'aedes',
  async start(ctx) {
    const host = '127.0.0.1';
    const port = await freePort();
    const tlsPort = ctx.tls !== null ? await freePort() : 0;
    const args = [...(ctx.nodeFlags ?? []), path.join(ctx.repoRoot, 'bench/peers/aedes-server.ts'), ctx.noDelay === true ? 'nodelay' : 'nagle', String(port)];
    if (ctx.tls !== null) args.push(String(tlsPort), ctx.tls.caFile, ctx.tls.serverCertFile, ctx.tls.serverKeyFile);
    const proc = spawnBroker(process.execPath, args, { cwd: ctx.repoRoot });
    try {
      await proc.waitForOutput('READY', 15_000);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return {
      name: 'aedes', pid: proc.pid, mqtt: { host, port },
      mqtts: ctx.tls !== null ? { host, port: tlsPort } : null, tls: ctx.tls,
      stop: () => proc.stop(),
    };
  },
};
