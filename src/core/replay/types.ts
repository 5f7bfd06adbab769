/**
 * Replay protection state in the store (issue 5, point 5): for each device and stream the
 * highest counter persisted, and whether it was written by a clean stop. Streams: `up` (the
 * device's messages on protected topics, checked by shield/replay) and `cmd` (the counter the
 * gateway stamps on commands to the device, core/commands).
 *
 * Written every K counters, not per message; a reader that finds `clean` false must assume up
 * to K - 1 counters past `highest` were used (RFC 8613 Appendix B.1.1).
 */
export type ReplayStream = 'up' | 'cmd';

export interface ReplayCounterRecord {
  deviceId: string;
  stream: ReplayStream;
  highest: number;
  /** True only when written by a clean stop: `highest` is then exact. */
  clean: boolean;
  updatedAt: number;
}

export interface ReplayStateRepo {
  /**
   * Every record of `stream`, marking them all unclean in the same transaction: the process
   * that loads the state owns it now, and only its own clean stop may mark it clean again.
   */
  claim(stream: ReplayStream, now: number): Promise<ReplayCounterRecord[]>;
  /** Upserts in one transaction. A stored `highest` is never lowered (a late write cannot undo a newer one). */
  save(records: readonly ReplayCounterRecord[]): Promise<void>;
  get(deviceId: string, stream: ReplayStream): Promise<ReplayCounterRecord | null>;
  /** Forgets a device's counters (the device was deleted); returns how many records went. */
  deleteDevice(deviceId: string): Promise<number>;
}
