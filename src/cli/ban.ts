/**
 * `palisade ban add|list|remove`: the ban list from the command line (issue 5, point 1). Writes
 * go to the store; a running gateway on the same data dir sees them within
 * `shield.bans.reloadMs` (default 0.5 s) and closes live connections a new ban matches.
 *
 *   palisade ban add --address 10.0.0.0/8 --for 1h --reason "scanner"
 *   palisade ban add --client-id sensor-7 | --username dev-7 | --cert <serial or sha-256>
 *   palisade ban list [--json]
 *   palisade ban remove <id>
 */
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { EventLog } from '../core/events/event-log.ts';
import type { BanKind, BanRecord } from '../core/bans/types.ts';
import { normaliseBan } from '../shield/bans/ban-list.ts';
import { addCommonOptions, cliActor, withStore, type CommonOptions } from './common.ts';

interface AddOptions extends CommonOptions {
  address?: string;
  clientId?: string;
  username?: string;
  cert?: string;
  for?: string;
  reason?: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `1h`, `7d`, `2w`, or a bare number of seconds; `permanent` gives null. */
export function parseDuration(text: string): number | null {
  if (text === 'permanent' || text === 'forever') return null;
  const m = /^(\d+)([smhdw]?)$/.exec(text.trim());
  if (!m) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `--for must look like 90s, 15m, 1h, 7d or permanent, got "${text}"`);
  const ms = Number(m[1]) * (UNITS[m[2] || 's'] ?? 1000);
  if (ms <= 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, '--for must be positive');
  return ms;
}

function formatBan(b: BanRecord): string {
  const until = b.expiresAt === null ? 'permanent' : `until ${new Date(b.expiresAt).toISOString()}`;
  return `${b.id}\t${b.kind}\t${b.value}\t${until}\tby ${b.by}${b.reason ? `\t${b.reason}` : ''}`;
}

export function registerBanCommands(program: Command): void {
  const ban = program.command('ban').description('ban addresses, client ids, usernames or certificates (a running gateway applies changes within a second)');

  addCommonOptions(ban.command('add').description('add a ban; give exactly one of --address, --client-id, --username, --cert'))
    .option('--address <ip-or-cidr>', 'an IPv4 or IPv6 address or CIDR block, refused at accept before TLS')
    .option('--client-id <id>', 'an MQTT client id, refused at CONNECT (MQTT 5: 0x8A Banned)')
    .option('--username <name>', 'a username (device id), refused at CONNECT before the password is checked')
    .option('--cert <serial-or-fingerprint>', 'a client certificate: hex serial or SHA-256 fingerprint')
    .option('--for <duration>', 'how long: 90s, 15m, 1h, 7d, or permanent', 'permanent')
    .option('--reason <text>', 'why, kept with the ban and in the event log', '')
    .action(async (opts: AddOptions) => {
      const given: Array<[BanKind, string]> = [];
      if (opts.address !== undefined) given.push(['address', opts.address]);
      if (opts.clientId !== undefined) given.push(['client-id', opts.clientId]);
      if (opts.username !== undefined) given.push(['username', opts.username]);
      if (opts.cert !== undefined) given.push(['certificate', opts.cert]);
      const [one] = given;
      if (given.length !== 1 || one === undefined) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'give exactly one of --address, --client-id, --username, --cert');
      const duration = parseDuration(opts.for ?? 'permanent');
      const now = Date.now();
      const actor = cliActor();
      const input = normaliseBan({ kind: one[0], value: one[1], reason: opts.reason ?? '', expiresAt: duration === null ? null : now + duration, by: actor.principal });
      await withStore(opts, async (store) => {
        const added = await store.bans.add({ ...input, createdAt: now });
        const events = new EventLog(store.events);
        events.record('admin.ban_added', 'info', { ...actor, detail: { action: 'ban_added', target: String(added.id), kind: added.kind, value: added.value, reason: added.reason, expiresAt: added.expiresAt } });
        await events.flush();
        console.log(`ban ${added.id}: ${added.kind} ${added.value} ${added.expiresAt === null ? 'permanent' : `until ${new Date(added.expiresAt).toISOString()}`}`);
      });
    });

  addCommonOptions(ban.command('list').description('list active bans'))
    .option('--json', 'one JSON object per line')
    .action(async (opts: CommonOptions & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const bans = await store.bans.list(Date.now());
        for (const b of bans) console.log(opts.json ? JSON.stringify(b) : formatBan(b));
        if (!opts.json && bans.length === 0) console.log('no active bans');
      });
    });

  addCommonOptions(ban.command('remove <id>').description('lift a ban by its id')).action(async (id: string, opts: CommonOptions) => {
    if (!/^\d+$/.test(id)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `ban id must be a number, got "${id}"`);
    await withStore(opts, async (store) => {
      if (!(await store.bans.remove(Number(id)))) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no ban with id ${id}`);
      const events = new EventLog(store.events);
      events.record('admin.ban_removed', 'info', { ...cliActor(), detail: { action: 'ban_removed', target: id } });
      await events.flush();
      console.log(`ban ${id} removed`);
    });
  });
}
