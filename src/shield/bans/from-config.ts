/**
 * Builds the admission half of the shield from config (issue 5, point 1): the store-backed ban
 * list (loaded, then polled for other processes' changes), flapping detection and the
 * pre-authentication gate the protocol adapters call.
 */
import type { PalisadeConfig } from '../../config/schema.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { Store } from '../../core/ports.ts';
import { FlappingDetector } from '../flapping.ts';
import { StoreBanList } from './ban-list.ts';
import { PreAuthGate } from './pre-auth-gate.ts';

export interface AdmissionShield {
  bans: StoreBanList;
  preAuth: PreAuthGate;
  stop(): void;
}

export async function startAdmissionShield(config: PalisadeConfig, store: Pick<Store, 'bans'>, events: EventLog): Promise<AdmissionShield> {
  const s = config.shield;
  const bans = new StoreBanList(store.bans, {
    reloadMs: s.bans.reloadMs,
    onError: (err) => events.record('store.error', 'critical', { detail: { error: err instanceof Error ? err.message : String(err), during: 'ban list reload' } }),
  });
  await bans.start();
  const flapping = s.flapping.enabled ? new FlappingDetector(s.flapping) : null;
  const preAuth = new PreAuthGate({ bans, flapping, events, refusalIntervalMs: s.bans.eventIntervalMs });
  return { bans, preAuth, stop: () => bans.stop() };
}
