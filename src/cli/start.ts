/** `palisade start`: runs the gateway in the foreground until SIGINT or SIGTERM. */
import type { Command } from 'commander';
import { pino } from 'pino';
import { startGateway } from '../gateway.ts';
import { addCommonOptions, configFrom, type CommonOptions } from './common.ts';
import { formatSource } from '../core/policy/cidr.ts';

export function registerStartCommand(program: Command): void {
  addCommonOptions(program.command('start').description('run the gateway in the foreground')).action(async (opts: CommonOptions) => {
    const config = configFrom(opts);
    const logger = pino({ level: config.log.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
    const gateway = await startGateway(config, logger);
    if (gateway.setupSecret) {
      // Printed once, never logged to a file and never shown again (DESIGN.md §3).
      process.stdout.write(`\nOne-time admin setup secret (shown only now): ${gateway.setupSecret}\nCreate the first admin with POST /api/v1/setup {token, username, password} on the HTTPS listener.\n\n`);
    }
    for (const [name, addr] of Object.entries(gateway.listeners)) {
      logger.info({ listener: name, host: addr.host, port: addr.port }, `listening ${name} on ${formatSource(addr.host, addr.port)}`);
    }
    logger.info({ dataDir: gateway.dataDir }, 'palisade started');
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      gateway.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
