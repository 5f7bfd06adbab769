/**
 * The append-only security event log and its signed checkpoints. The store assigns ids and
 * chains each event to the last row actually in the table, inside one BEGIN IMMEDIATE
 * transaction: the gateway and a CLI process appending to the same file queue on the write
 * lock and still form one chain (computing the chain in a process's memory forked it).
 * The hash formula is core's (event-hash.ts); checkpoints arrive signed and are stored verbatim.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { GENESIS, hashEvent } from '../../core/events/event-hash.ts';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { EventCheckpoint, EventCheckpointInput, EventRepo, SecurityEvent, SecurityEventInput, Severity } from '../../core/ports.ts';
import { attempt, int, json, text, textOrNull, transactionFor, type Row, type Transaction } from './sql-util.ts';

const COLUMNS = 'id, ts, type, severity, principal, source, detail, prev_hash, hash';
const CHECKPOINT_COLUMNS = 'id, last_event_id, last_hash, event_count, ts, key_id, signature';
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

function toCheckpoint(row: Row): EventCheckpoint {
  return {
    id: int(row, 'id'),
    lastEventId: int(row, 'last_event_id'),
    lastHash: text(row, 'last_hash'),
    count: int(row, 'event_count'),
    ts: int(row, 'ts'),
    keyId: text(row, 'key_id'),
    signature: text(row, 'signature'),
  };
}

export class SqliteEventRepo implements EventRepo {
  readonly #tx: Transaction;
  readonly #insert: StatementSync;
  readonly #nextId: StatementSync;
  readonly #list: StatementSync;
  readonly #listByType: StatementSync;
  readonly #last: StatementSync;
  readonly #count: StatementSync;
  readonly #insertCheckpoint: StatementSync;
  readonly #listCheckpoints: StatementSync;
  readonly #lastCheckpoint: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction = transactionFor(db)) {
    this.#tx = tx;
    this.#insert = db.prepare(
      `INSERT INTO security_events (id, ts, type, severity, principal, source, detail, prev_hash, hash)
       VALUES (:id, :ts, :type, :severity, :principal, :source, :detail, :prevHash, :hash)`,
    );
    // The id AUTOINCREMENT would give, known before the insert so it can go into the hash.
    // sqlite_sequence rather than MAX(id)+1: after rows at the tail were deleted, the next
    // event leaves a visible id gap instead of silently reusing their ids.
    this.#nextId = db.prepare(
      `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'security_events'), 0),
                  COALESCE((SELECT MAX(id) FROM security_events), 0)) + 1 AS id`,
    );
    // Two statements rather than "(:type IS NULL OR type = :type)", which would stop the planner
    // from using the (type, id) index.
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM security_events WHERE id > ? ORDER BY id LIMIT ?`);
    this.#listByType = db.prepare(
      `SELECT ${COLUMNS} FROM security_events WHERE type = ? AND id > ? ORDER BY id LIMIT ?`,
    );
    this.#last = db.prepare(`SELECT ${COLUMNS} FROM security_events ORDER BY id DESC LIMIT 1`);
    this.#count = db.prepare('SELECT COUNT(*) AS n FROM security_events WHERE id <= ?');
    this.#insertCheckpoint = db.prepare(
      `INSERT INTO security_event_checkpoints (last_event_id, last_hash, event_count, ts, key_id, signature)
       VALUES (:lastEventId, :lastHash, :count, :ts, :keyId, :signature)`,
    );
    this.#listCheckpoints = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM security_event_checkpoints ORDER BY id`);
    this.#lastCheckpoint = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM security_event_checkpoints ORDER BY id DESC LIMIT 1`);
  }

  append(input: SecurityEventInput): Promise<SecurityEvent> {
    return attempt('events.append', () => {
      const detailText = JSON.stringify(input.detail);
      // Hashed and returned as stored (re-parsed), so the hash is over exactly what list()
      // gives the verifier later, and the result does not alias the caller's object.
      const base = {
        ts: input.ts,
        type: input.type,
        severity: input.severity,
        principal: input.principal,
        source: input.source,
        detail: JSON.parse(detailText) as Record<string, unknown>,
      };
      return this.#tx(() => {
        const lastRow = this.#last.get();
        const prevHash = lastRow === undefined ? GENESIS : text(lastRow, 'hash');
        const id = int(this.#nextId.get() ?? {}, 'id');
        const hash = hashEvent(prevHash, { ...base, id });
        this.#insert.run({ ...base, id, detail: detailText, prevHash, hash });
        return { id, ...base, prevHash, hash };
      });
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

  count(upToId: number): Promise<number> {
    return attempt('events.count', () => int(this.#count.get(upToId) ?? {}, 'n'));
  }

  addCheckpoint(cp: EventCheckpointInput): Promise<EventCheckpoint> {
    return attempt('events.addCheckpoint', () => {
      const { lastInsertRowid } = this.#insertCheckpoint.run({
        lastEventId: cp.lastEventId,
        lastHash: cp.lastHash,
        count: cp.count,
        ts: cp.ts,
        keyId: cp.keyId,
        signature: cp.signature,
      });
      return { id: Number(lastInsertRowid), lastEventId: cp.lastEventId, lastHash: cp.lastHash, count: cp.count, ts: cp.ts, keyId: cp.keyId, signature: cp.signature };
    });
  }

  listCheckpoints(): Promise<EventCheckpoint[]> {
    return attempt('events.listCheckpoints', () => this.#listCheckpoints.all().map(toCheckpoint));
  }

  lastCheckpoint(): Promise<EventCheckpoint | null> {
    return attempt('events.lastCheckpoint', () => {
      const row = this.#lastCheckpoint.get();
      return row === undefined ? null : toCheckpoint(row);
    });
  }
}
