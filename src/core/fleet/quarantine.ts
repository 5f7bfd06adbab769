/**
 * Moving a device to the quarantine segment, and back: one code path for `palisade device
 * quarantine|release` and the anomaly detector's `quarantine` mitigation. The store's change
 * feed carries the move to every running gateway, whose live sessions then take the new segment.
 */
import { QUARANTINE_SEGMENT } from '../policy/builtin.ts';
import type { DeviceRepo } from '../ports.ts';

/** The attribute that remembers where a quarantined device came from, for `release`. */
export const QUARANTINED_FROM_ATTR = 'palisade.quarantinedFrom';

export type QuarantineResult = { outcome: 'quarantined'; from: string } | { outcome: 'already' } | { outcome: 'not_found' };

export async function quarantineDevice(devices: DeviceRepo, id: string): Promise<QuarantineResult> {
  const device = await devices.get(id);
  if (!device) return { outcome: 'not_found' };
  if (device.segment === QUARANTINE_SEGMENT) return { outcome: 'already' };
  await devices.update(id, { segment: QUARANTINE_SEGMENT, attrs: { ...device.attrs, [QUARANTINED_FROM_ATTR]: device.segment } });
  return { outcome: 'quarantined', from: device.segment };
}
