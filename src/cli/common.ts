/** What several subcommands share: reading the config the way `start` does, opening the store. */
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { PalisadeConfig } from '../config/schema.ts';
import type { Store } from '../core/ports.ts';
import { openSqliteStore } from '../store/sqlite/sqlite-store.ts';

export interface CommonOptions {
  config?: string;
  dataDir?: string;
}

/** Who ran a CLI command and from where, for the event log's who/from-where of admin actions. */
export function cliActor(): { principal: string; source: string } {
  return { principal: `cli:${userInfo().username}`, source: `cli@${hostname()}` };
}

export function addCommonOptions(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'YAML config file').option('-d, --data-dir <dir>', 'data directory (default ./palisade-data)');
}

export function configFrom(opts: CommonOptions): PalisadeConfig {
  return loadConfig({ file: opts.config, env: process.env, overrides: opts.dataDir === undefined ? {} : { dataDir: opts.dataDir } });
}

/** Runs `fn` with the data dir's store open (created 0700 when missing), and closes it after. */
export async function withStore<T>(opts: CommonOptions, fn: (store: Store, ctx: { config: PalisadeConfig; dataDir: string }) => Promise<T>): Promise<T> {
  const config = configFrom(opts);
  const dataDir = resolve(config.dataDir);
  const store = await openSqliteStore(join(dataDir, 'palisade.db'));
  try {
    return await fn(store, { config, dataDir });
  } finally {
    await store.close();
  }
}
