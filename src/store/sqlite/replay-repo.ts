/** Replay protection counters (core/replay) in SQLite: one row per device and stream. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ReplayCounterRecord, ReplayStateRepo, ReplayStream } from '../../core/replay/types.ts';
import { attempt, bool, int, text, type Row, type Transaction } from './sql-util.ts';

function record(row: Row): ReplayCounterRecord {
  return {
    deviceId: text(row, 'device_id'),
    stream: text(row, 'stream') as ReplayStream,
    highest: int(row, 'highest'),
    clean: bool(row, 'clean'),
    updatedAt: int(row, 'updated_at'),
  };
}

export class SqliteReplayRepo implements ReplayStateRepo {
  readonly #tx: Transaction;
  readonly #list: StatementSync;
  readonly #dirty: StatementSync;
  readonly #upsert: StatementSync;
  readonly #get: StatementSync;
  readonly #deleteDevice: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#list = db.prepare('SELECT device_id, stream, highest, clean, updated_at FROM replay_counters WHERE stream = ? ORDER BY device_id');
    this.#dirty = db.prepare('UPDATE replay_counters SET clean = 0, updated_at = ? WHERE stream = ? AND clean = 1');
    // Never lowers highest; a write below the stored value cannot claim it is exact (clean).
    this.#upsert = db.prepare(`INSERT INTO replay_counters (device_id, stream, highest, clean, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (device_id, stream) DO UPDATE SET
        clean = CASE WHEN excluded.highest >= replay_counters.highest THEN excluded.clean ELSE 0 END,
        highest = MAX(replay_counters.highest, excluded.highest),
        updated_at = excluded.updated_at`);
    this.#get = db.prepare('SELECT device_id, stream, highest, clean, updated_at FROM replay_counters WHERE device_id = ? AND stream = ?');
    this.#deleteDevice = db.prepare('DELETE FROM replay_counters WHERE device_id = ?');
  }

  claim(stream: ReplayStream, now: number): Promise<ReplayCounterRecord[]> {
    return attempt('replay.claim', () =>
      this.#tx(() => {
        const rows = this.#list.all(stream).map(record);
        this.#dirty.run(now, stream);
        return rows;
      }),
    );
  }

  save(records: readonly ReplayCounterRecord[]): Promise<void> {
    return attempt('replay.save', () =>
      this.#tx(() => {
        for (const r of records) this.#upsert.run(r.deviceId, r.stream, r.highest, r.clean ? 1 : 0, r.updatedAt);
      }),
    );
  }

  get(deviceId: string, stream: ReplayStream): Promise<ReplayCounterRecord | null> {
    return attempt('replay.get', () => {
      const row = this.#get.get(deviceId, stream);
      return row === undefined ? null : record(row);
    });
  }

  deleteDevice(deviceId: string): Promise<number> {
    return attempt('replay.deleteDevice', () => Number(this.#deleteDevice.run(deviceId).changes));
  }
}
