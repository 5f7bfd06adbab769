/** Device shadows (core/shadows) in SQLite; versions compared inside the write. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ShadowRecord, ShadowRepo } from '../../core/shadows/types.ts';
import { attempt, int, json, text, type Transaction } from './sql-util.ts';

export class SqliteShadowRepo implements ShadowRepo {
  readonly #tx: Transaction;
  readonly #get: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#get = db.prepare('SELECT device_id, state, metadata, version, updated_at FROM shadows WHERE device_id = ?');
    this.#insert = db.prepare('INSERT INTO shadows (device_id, state, metadata, version, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
    this.#update = db.prepare('UPDATE shadows SET state = ?, metadata = ?, version = ?, updated_at = ? WHERE device_id = ? AND version = ?');
    this.#delete = db.prepare('DELETE FROM shadows WHERE device_id = ?');
  }

  get(deviceId: string): Promise<ShadowRecord | null> {
    return attempt('shadows.get', () => {
      const row = this.#get.get(deviceId);
      if (row === undefined) return null;
      return {
        deviceId: text(row, 'device_id'),
        state: json<ShadowRecord['state']>(row, 'state'),
        metadata: json<ShadowRecord['metadata']>(row, 'metadata'),
        version: int(row, 'version'),
        updatedAt: int(row, 'updated_at'),
      };
    });
  }

  put(r: ShadowRecord, expectedVersion: number): Promise<boolean> {
    return attempt('shadows.put', () =>
      this.#tx(() => {
        const state = JSON.stringify(r.state);
        const metadata = JSON.stringify(r.metadata);
        const res = expectedVersion === 0 ? this.#insert.run(r.deviceId, state, metadata, r.version, r.updatedAt) : this.#update.run(state, metadata, r.version, r.updatedAt, r.deviceId, expectedVersion);
        return Number(res.changes) > 0;
      }),
    );
  }

  delete(deviceId: string): Promise<boolean> {
    return attempt('shadows.delete', () => Number(this.#delete.run(deviceId).changes) > 0);
  }
}
