/** Sealed device PSKs (core/psk/repo.ts), one row per device. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { DevicePskRecord, DevicePskRepo } from '../../core/psk/repo.ts';
import { attempt, int, text, type Row } from './sql-util.ts';

function toRecord(row: Row): DevicePskRecord {
  return { deviceId: text(row, 'device_id'), sealed: text(row, 'sealed'), createdAt: int(row, 'created_at') };
}

export class SqliteDevicePskRepo implements DevicePskRepo {
  readonly #put: StatementSync;
  readonly #get: StatementSync;
  readonly #list: StatementSync;
  readonly #delete: StatementSync;
  readonly #reseal: StatementSync;

  constructor(db: DatabaseSync) {
    this.#put = db.prepare('INSERT INTO device_psks (device_id, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at');
    this.#get = db.prepare('SELECT device_id, sealed, created_at FROM device_psks WHERE device_id = ?');
    this.#list = db.prepare('SELECT device_id, sealed, created_at FROM device_psks ORDER BY device_id');
    this.#delete = db.prepare('DELETE FROM device_psks WHERE device_id = ?');
    this.#reseal = db.prepare('UPDATE device_psks SET sealed = ? WHERE device_id = ? AND sealed = ?');
  }

  put(r: DevicePskRecord): Promise<void> {
    return attempt('devicePsks.put', () => {
      this.#put.run(r.deviceId, r.sealed, r.createdAt);
    });
  }

  get(deviceId: string): Promise<DevicePskRecord | null> {
    return attempt('devicePsks.get', () => {
      const row = this.#get.get(deviceId);
      return row === undefined ? null : toRecord(row);
    });
  }

  list(): Promise<DevicePskRecord[]> {
    return attempt('devicePsks.list', () => this.#list.all().map(toRecord));
  }

  delete(deviceId: string): Promise<boolean> {
    return attempt('devicePsks.delete', () => Number(this.#delete.run(deviceId).changes) > 0);
  }

  reseal(deviceId: string, previous: string, next: string): Promise<boolean> {
    return attempt('devicePsks.reseal', () => Number(this.#reseal.run(next, deviceId, previous).changes) > 0);
  }
}
