#!/usr/bin/env node
/**
 * The `palisade` command. One file per subcommand; errors print one readable line and exit
 * non-zero (DESIGN.md §3).
 */
import { Command, CommanderError } from 'commander';
import { isPalisadeError } from '../core/errors.ts';
import { registerDeviceCommands } from './device.ts';
import { registerKeysCommands } from './keys.ts';
import { registerCertCommands } from './cert.ts';
import { registerEnrollCommands } from './enroll.ts';
import { registerEventsCommands } from './events.ts';
import { registerOperatorCommands } from './operator.ts';
import { registerPolicyCommands } from './policy.ts';
import { registerStartCommand } from './start.ts';
import { registerBanCommands } from './ban.ts';
import { registerDnsCommands } from './dns.ts';

const program = new Command();
program
  .name('palisade')
  .description('Self-hosted zero-trust security gateway for IoT fleets: MQTT broker, device PKI and policy in one process.')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) });

registerStartCommand(program);
registerDeviceCommands(program);
registerKeysCommands(program);
registerCertCommands(program);
registerEnrollCommands(program);
registerEventsCommands(program);
registerPolicyCommands(program);
registerOperatorCommands(program);
registerBanCommands(program);
registerDnsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = isPalisadeError(err) || err instanceof Error ? err.message : String(err);
  console.error(`palisade: ${message}`);
  process.exit(1);
}
