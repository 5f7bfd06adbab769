/** The ban list (core/bans) in SQLite; `ban_generation` is kept by triggers (migration 11). */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { BanInput, BanKind, BanRecord, BanRepo } from '../../core/bans/types.ts';
import { attempt, int, intOrNull, text, type Row } from './sql-util.ts';

const COLUMNS = 'id, kind, value, reason, expires_at, created_by, created_at';

function toRecord(row: Row): BanRecord {
  return {
    id: int(row, 'id'),
    kind: text(row, 'kind') as BanKind,
    value: text(row, 'value'),
    reason: text(row, 'reason'),
    expiresAt: intOrNull(row, 'expires_at'),
    by: text(row, 'created_by'),
    createdAt: int(row, 'created_at'),
  };
}

export class SqliteBanRepo implements BanRepo {
  readonly #insert: StatementSync;
  readonly #get: StatementSync;
  readonly #all: StatementSync;
  readonly #active: StatementSync;
  readonly #delete: StatementSync;
  readonly #prune: StatementSync;
  readonly #generation: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(`INSERT INTO bans (kind, value, reason, expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM bans WHERE id = ?`);
    this.#all = db.prepare(`SELECT ${COLUMNS} FROM bans ORDER BY id`);
    this.#active = db.prepare(`SELECT ${COLUMNS} FROM bans WHERE expires_at IS NULL OR expires_at > ? ORDER BY id`);
    this.#delete = db.prepare('DELETE FROM bans WHERE id = ?');
    this.#prune = db.prepare('DELETE FROM bans WHERE expires_at IS NOT NULL AND expires_at <= ?');
    this.#generation = db.prepare('SELECT generation FROM ban_generation WHERE id = 1');
  }

  add(input: BanInput & { createdAt: number }): Promise<BanRecord> {
    return attempt('bans.add', () => toRecord(this.#insert.get(input.kind, input.value, input.reason, input.expiresAt, input.by, input.createdAt)!));
  }

  get(id: number): Promise<BanRecord | null> {
    return attempt('bans.get', () => {
      const row = this.#get.get(id);
      return row === undefined ? null : toRecord(row);
    });
  }

  list(now?: number): Promise<BanRecord[]> {
    return attempt('bans.list', () => (now === undefined ? this.#all.all() : this.#active.all(now)).map(toRecord));
  }

  remove(id: number): Promise<boolean> {
    return attempt('bans.remove', () => Number(this.#delete.run(id).changes) > 0);
  }

  pruneExpired(now: number): Promise<number> {
    return attempt('bans.pruneExpired', () => Number(this.#prune.run(now).changes));
  }

  generation(): Promise<number> {
    return attempt('bans.generation', () => {
      const row = this.#generation.get();
      return row === undefined ? 0 : int(row, 'generation');
    });
  }
}
