/**
 * The append-only security event log. The store assigns ids; the hash chain (prevHash/hash) is
 * computed by core and stored verbatim, so the store never needs to understand it.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventRepo, SecurityEvent, Severity } from '../../core/ports.ts';
import { attempt, int, json, text, textOrNull, type Row } from './sql-util.ts';

const COLUMNS = 'id, ts, type, severity, principal, source, detail, prev_hash, hash';
const DEFAULT_LIMIT = 1000;

function toEvent(row: Row): SecurityEvent {
  return {
    id: int(row, 'id'),
    ts: int(row, 'ts'),
    type: text(row, 'type'),
    severity: text(row, 'severity') as Severity,
    principal: textOrNull(row, 'principal'),
    source: textOrNull(row, 'source'),
    detail: json<Record<string, unknown>>(row, 'detail'),
    prevHash: text(row, 'prev_hash'),
    hash: text(row, 'hash'),
  };
}

export class SqliteEventRepo implements EventRepo {
  readonly #insert: StatementSync;
  readonly #list: StatementSync;
  readonly #listByType: StatementSync;
  readonly #last: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      `INSERT INTO security_events (ts, type, severity, principal, source, detail, prev_hash, hash)
       VALUES (:ts, :type, :severity, :principal, :source, :detail, :prevHash, :hash)`,
    );
    // Two statements rather than "(:type IS NULL OR type = :type)", which would stop the planner
    // from using the (type, id) index.
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM security_events WHERE id > ? ORDER BY id LIMIT ?`);
    this.#listByType = db.prepare(
      `SELECT ${COLUMNS} FROM security_events WHERE type = ? AND id > ? ORDER BY id LIMIT ?`,
    );
    this.#last = db.prepare(`SELECT ${COLUMNS} FROM security_events ORDER BY id DESC LIMIT 1`);
  }

  append(event: Omit<SecurityEvent, 'id'>): Promise<SecurityEvent> {
    return attempt('events.append', () => {
      const detail = JSON.stringify(event.detail);
      const { lastInsertRowid } = this.#insert.run({
        ts: event.ts,
        type: event.type,
        severity: event.severity,
        principal: event.principal,
        source: event.source,
        detail,
        prevHash: event.prevHash,
        hash: event.hash,
      });
      // Built from the stored values (detail re-parsed) so the result equals what list() returns
      // later and does not alias the caller's object.
      return {
        id: Number(lastInsertRowid),
        ts: event.ts,
        type: event.type,
        severity: event.severity,
        principal: event.principal,
        source: event.source,
        detail: JSON.parse(detail) as Record<string, unknown>,
        prevHash: event.prevHash,
        hash: event.hash,
      };
    });
  }

  list(filter?: { sinceId?: number; type?: string; limit?: number }): Promise<SecurityEvent[]> {
    return attempt('events.list', () => {
      const sinceId = filter?.sinceId ?? 0;
      const limit = filter?.limit ?? DEFAULT_LIMIT;
      if (!Number.isInteger(limit) || limit < 0) {
        throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `events.list limit must be a non-negative integer`, {
          detail: { limit },
        });
      }
      const rows =
        filter?.type === undefined
          ? this.#list.all(sinceId, limit)
          : this.#listByType.all(filter.type, sinceId, limit);
      return rows.map(toEvent);
    });
  }

  last(): Promise<SecurityEvent | null> {
    return attempt('events.last', () => {
      const row = this.#last.get();
      return row === undefined ? null : toEvent(row);
    });
  }
}
