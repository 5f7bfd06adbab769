/**
 * Enrollment tokens and their sealed lookup key (core/enrollment/repo.ts). Consumption is one
 * guarded UPDATE, so a token is single-use even when two requests race on one database.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EnrollmentRepo, EnrollmentTokenRecord } from '../../core/enrollment/repo.ts';
import { attempt, int, intOrNull, text, textOrNull, type Row } from './sql-util.ts';

const COLUMNS = 'id, lookup, sealed, device_id, segment, created_at, expires_at, used_at, used_for';
const LOOKUP_KEY = 'lookup';

function toToken(row: Row): EnrollmentTokenRecord {
  return {
    id: text(row, 'id'),
    lookup: text(row, 'lookup'),
    sealed: text(row, 'sealed'),
    deviceId: text(row, 'device_id'),
    segment: text(row, 'segment'),
    createdAt: int(row, 'created_at'),
    expiresAt: int(row, 'expires_at'),
    usedAt: intOrNull(row, 'used_at'),
    usedFor: textOrNull(row, 'used_for'),
  };
}

export class SqliteEnrollmentRepo implements EnrollmentRepo {
  readonly #insert: StatementSync;
  readonly #byLookup: StatementSync;
  readonly #byId: StatementSync;
  readonly #list: StatementSync;
  readonly #listByDevice: StatementSync;
  readonly #consume: StatementSync;
  readonly #delete: StatementSync;
  readonly #reseal: StatementSync;
  readonly #getKey: StatementSync;
  readonly #initKey: StatementSync;
  readonly #resealKey: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      `INSERT INTO enrollment_tokens (${COLUMNS}) VALUES (:id, :lookup, :sealed, :deviceId, :segment, :createdAt, :expiresAt, :usedAt, :usedFor)`,
    );
    this.#byLookup = db.prepare(`SELECT ${COLUMNS} FROM enrollment_tokens WHERE lookup = ?`);
    this.#byId = db.prepare(`SELECT ${COLUMNS} FROM enrollment_tokens WHERE id = ?`);
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM enrollment_tokens ORDER BY created_at, id`);
    this.#listByDevice = db.prepare(`SELECT ${COLUMNS} FROM enrollment_tokens WHERE device_id = ? ORDER BY created_at, id`);
    // The guard is the single-use rule: only an unused, unexpired token changes, once.
    this.#consume = db.prepare('UPDATE enrollment_tokens SET used_at = ?, used_for = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?');
    this.#delete = db.prepare('DELETE FROM enrollment_tokens WHERE id = ?');
    this.#reseal = db.prepare('UPDATE enrollment_tokens SET sealed = ? WHERE id = ? AND sealed = ?');
    this.#getKey = db.prepare('SELECT sealed FROM enrollment_keys WHERE name = ?');
    this.#initKey = db.prepare('INSERT INTO enrollment_keys (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING');
    this.#resealKey = db.prepare('UPDATE enrollment_keys SET sealed = ? WHERE name = ? AND sealed = ?');
  }

  addToken(t: EnrollmentTokenRecord): Promise<void> {
    return attempt('enrollment.addToken', () => {
      try {
        this.#insert.run({ id: t.id, lookup: t.lookup, sealed: t.sealed, deviceId: t.deviceId, segment: t.segment, createdAt: t.createdAt, expiresAt: t.expiresAt, usedAt: t.usedAt, usedFor: t.usedFor });
      } catch (err) {
        if (err instanceof Error && /UNIQUE constraint/.test(err.message)) {
          throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `enrollment token ${t.id} already exists`, { detail: { id: t.id } });
        }
        throw err;
      }
    });
  }

  findTokenByLookup(lookup: string): Promise<EnrollmentTokenRecord | null> {
    return attempt('enrollment.findTokenByLookup', () => {
      const row = this.#byLookup.get(lookup);
      return row === undefined ? null : toToken(row);
    });
  }

  getToken(id: string): Promise<EnrollmentTokenRecord | null> {
    return attempt('enrollment.getToken', () => {
      const row = this.#byId.get(id);
      return row === undefined ? null : toToken(row);
    });
  }

  listTokens(filter: { deviceId?: string } = {}): Promise<EnrollmentTokenRecord[]> {
    return attempt('enrollment.listTokens', () => (filter.deviceId === undefined ? this.#list.all() : this.#listByDevice.all(filter.deviceId)).map(toToken));
  }

  consumeToken(id: string, at: number, usedFor: string): Promise<boolean> {
    return attempt('enrollment.consumeToken', () => Number(this.#consume.run(at, usedFor, id, at).changes) === 1);
  }

  deleteToken(id: string): Promise<boolean> {
    return attempt('enrollment.deleteToken', () => Number(this.#delete.run(id).changes) > 0);
  }

  resealToken(id: string, previous: string, next: string): Promise<boolean> {
    return attempt('enrollment.resealToken', () => Number(this.#reseal.run(next, id, previous).changes) === 1);
  }

  getLookupKey(): Promise<string | null> {
    return attempt('enrollment.getLookupKey', () => {
      const row = this.#getKey.get(LOOKUP_KEY);
      return row === undefined ? null : text(row, 'sealed');
    });
  }

  initLookupKey(sealed: string): Promise<string> {
    return attempt('enrollment.initLookupKey', () => {
      this.#initKey.run(LOOKUP_KEY, sealed, Date.now());
      const row = this.#getKey.get(LOOKUP_KEY);
      if (row === undefined) throw new PalisadeError(ErrorCodes.STORE_FAILURE, 'enrollment lookup key vanished after insert');
      return text(row, 'sealed');
    });
  }

  resealLookupKey(previous: string, next: string): Promise<boolean> {
    return attempt('enrollment.resealLookupKey', () => Number(this.#resealKey.run(next, LOOKUP_KEY, previous).changes) === 1);
  }
}
