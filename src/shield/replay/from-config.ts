/**
 * Replay protection wired from the validated config, so the composition root gains three lines:
 * the guard as an inspection step (null when no topic is protected), the command counter for
 * CommandService (null when `stampCommands` is off), and one flush for a clean stop.
 */
import type { ReplayConfig } from '../../config/replay.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { InboundMessage, InspectionVerdict } from '../../core/messaging/inspection.ts';
import { OutboundCounters, type CommandCounter } from '../../core/replay/outbound.ts';
import type { ReplayStateRepo } from '../../core/replay/types.ts';
import { ReplayGuard } from './guard.ts';

export interface ReplayProtection {
  /** For ShieldInspector's steps; put it before the WAF and topic rules so they see the unwrapped payload. */
  step: ((m: InboundMessage) => InspectionVerdict) | null;
  commandCounter: CommandCounter | null;
  /** Clean stop: exact counters, so a restart loses none. */
  flush(): Promise<void>;
}

export async function openReplayProtection(config: ReplayConfig, repo: ReplayStateRepo, events: Pick<EventLog, 'record'>): Promise<ReplayProtection> {
  // A failed write leaves the previous persisted value: safe (a crash then skips ahead from it), but worth an alarm.
  const onPersistError = (err: unknown): void => {
    events.record('store.error', 'critical', { detail: { op: 'replay.save', error: err instanceof Error ? err.message : String(err) } });
  };
  const guard = await ReplayGuard.open({ repo, settings: config, onPersistError });
  const counters = config.stampCommands ? await OutboundCounters.open({ repo, persistEvery: config.persistEvery, onError: onPersistError }) : null;
  return {
    step: guard.enabled ? (m) => guard.check(m) : null,
    commandCounter: counters,
    async flush() {
      await guard.flush();
      await counters?.flush();
    },
  };
}
