/**
 * Reads the change feed that the triggers of migration 3 write (see ChangeRepo in ports.ts).
 * There is no append here on purpose: a write that forgot to append could not exist.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Change, ChangeKind, ChangeRepo } from '../../core/ports.ts';
import { attempt, int, text, type Row } from './sql-util.ts';

const DEFAULT_LIMIT = 1000;

function toChange(row: Row): Change {
  return { seq: int(row, 'seq'), kind: text(row, 'kind') as ChangeKind, key: text(row, 'key'), at: int(row, 'at') };
}

export class SqliteChangeRepo implements ChangeRepo {
  readonly #latest: StatementSync;
  readonly #since: StatementSync;
  readonly #prune: StatementSync;

  constructor(db: DatabaseSync) {
    this.#latest = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM changes');
    this.#since = db.prepare('SELECT seq, kind, key, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#prune = db.prepare('DELETE FROM changes WHERE at < ?');
  }

  latest(): Promise<number> {
    return attempt('changes.latest', () => int(this.#latest.get() ?? { seq: 0 }, 'seq'));
  }

  since(after: number, limit = DEFAULT_LIMIT): Promise<Change[]> {
    return attempt('changes.since', () => this.#since.all(after, limit).map(toChange));
  }

  prune(before: number): Promise<number> {
    return attempt('changes.prune', () => Number(this.#prune.run(before).changes));
  }
}
