/**
 * `palisade device move|quarantine|release`: a device's segment from the command line. A
 * running gateway reads the change feed within a quarter second and applies the move to the
 * device's live sessions: new decisions at once, subscriptions the new segment does not allow
 * dropped, and in `quarantine` nothing but status reports and firmware downloads.
 */
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { EventLog } from '../core/events/event-log.ts';
import { SEGMENT_PATTERN } from '../core/fleet/register-device.ts';
import { QUARANTINE_SEGMENT } from '../core/policy/builtin.ts';
import type { Store } from '../core/ports.ts';
import { addCommonOptions, cliActor, withStore, type CommonOptions } from './common.ts';

import { QUARANTINED_FROM_ATTR } from '../core/fleet/quarantine.ts';

/** The attribute that remembers where a quarantined device came from (core/fleet/quarantine.ts, shared with the anomaly detector). */
export { QUARANTINED_FROM_ATTR };



async function move(store: Store, id: string, segment: string, attrs: (current: Record<string, string>) => Record<string, string>, action: string): Promise<string> {
  const device = await store.devices.get(id);
  if (!device) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no device ${id}`);
  const from = device.segment;
  await store.devices.update(id, { segment, attrs: attrs(device.attrs) });
  // Who, what and from where, like every admin action (issue 3 point 5).
  const events = new EventLog(store.events);
  events.record(`admin.${action}`, segment === QUARANTINE_SEGMENT ? 'critical' : 'info', { ...cliActor(), detail: { device: id, from, to: segment } });
  await events.flush();
  return from;
}

export function registerDeviceMoveCommands(device: Command): void {
  addCommonOptions(device.command('move <id>').description('move a device to another segment; live sessions follow at once'))
    .requiredOption('-s, --segment <segment>', 'the new segment')
    .action(async (id: string, opts: CommonOptions & { segment: string }) => {
      if (!SEGMENT_PATTERN.test(opts.segment)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `invalid segment name ${JSON.stringify(opts.segment)}`);
      await withStore(opts, async (store) => {
        const from = await move(store, id, opts.segment, (a) => a, 'device_moved');
        console.log(`moved ${id}: ${from} -> ${opts.segment}`);
      });
    });

  addCommonOptions(device.command('quarantine <id>').description('move a device to the quarantine segment (status reports and firmware only)')).action(async (id: string, opts: CommonOptions) => {
    await withStore(opts, async (store) => {
      const current = await store.devices.get(id);
      if (current?.segment === QUARANTINE_SEGMENT) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `device ${id} is already quarantined`);
      const from = await move(store, id, QUARANTINE_SEGMENT, (a) => ({ ...a, [QUARANTINED_FROM_ATTR]: current?.segment ?? '' }), 'device_quarantined');
      console.log(`quarantined ${id} (was in ${from}); release with: palisade device release ${id}`);
    });
  });

  addCommonOptions(device.command('release <id>').description('move a quarantined device back to the segment it came from')).action(async (id: string, opts: CommonOptions) => {
    await withStore(opts, async (store) => {
      const current = await store.devices.get(id);
      if (!current) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no device ${id}`);
      const back = current.attrs[QUARANTINED_FROM_ATTR];
      if (current.segment !== QUARANTINE_SEGMENT || back === undefined || back === '') throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `device ${id} is not quarantined (segment ${current.segment}); use palisade device move`);
      await move(store, id, back, (a) => Object.fromEntries(Object.entries(a).filter(([k]) => k !== QUARANTINED_FROM_ATTR)), 'device_released');
      console.log(`released ${id}: quarantine -> ${back}`);
    });
  });
}
