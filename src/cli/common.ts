/** What several subcommands share: reading the config the way `start` does. */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { PalisadeConfig } from '../config/schema.ts';

export interface CommonOptions {
  config?: string;
  dataDir?: string;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'YAML config file').option('-d, --data-dir <dir>', 'data directory (default ./palisade-data)');
}

export function configFrom(opts: CommonOptions): PalisadeConfig {
  return loadConfig({ file: opts.config, env: process.env, overrides: opts.dataDir === undefined ? {} : { dataDir: opts.dataDir } });
}
