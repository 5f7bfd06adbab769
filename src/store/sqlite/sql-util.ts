/**
 * Shared plumbing for the SQLite repos: row decoding with runtime checks, a transaction helper
 * built on cached BEGIN/COMMIT/ROLLBACK statements, and the sync-to-Promise bridge that turns
 * driver failures into PalisadeError so callers never see raw node:sqlite errors.
 */
import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import { ErrorCodes, PalisadeError, isPalisadeError } from '../../core/errors.ts';

export type Row = Record<string, SQLOutputValue>;

function corrupt(column: string, expected: string, value: SQLOutputValue | undefined): PalisadeError {
  return new PalisadeError(ErrorCodes.STORE_FAILURE, `column ${column}: expected ${expected}, got ${typeof value}`, {
    detail: { column },
  });
}

export function text(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== 'string') throw corrupt(column, 'text', v);
  return v;
}

export function textOrNull(row: Row, column: string): string | null {
  const v = row[column];
  if (v === null) return null;
  if (typeof v !== 'string') throw corrupt(column, 'text or null', v);
  return v;
}

export function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v !== 'number') throw corrupt(column, 'number', v);
  return v;
}

export function intOrNull(row: Row, column: string): number | null {
  const v = row[column];
  if (v === null) return null;
  if (typeof v !== 'number') throw corrupt(column, 'number or null', v);
  return v;
}

export function bool(row: Row, column: string): boolean {
  return int(row, column) !== 0;
}

/**
 * node:sqlite hands back Uint8Array; callers (and `Buffer.isBuffer` checks in protocol code)
 * expect Buffer. Wrapping the same memory avoids copying large payloads.
 */
export function blob(row: Row, column: string): Buffer {
  const v = row[column];
  if (!(v instanceof Uint8Array)) throw corrupt(column, 'blob', v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The JSON columns hold values this code wrote, so the shape is trusted after the object check. */
export function json<T>(row: Row, column: string): T {
  const parsed = JSON.parse(text(row, column)) as unknown;
  if (parsed === null || typeof parsed !== 'object') throw corrupt(column, 'JSON object or array', row[column]);
  return parsed as T;
}

export function toStoreError(op: string, err: unknown): PalisadeError {
  if (isPalisadeError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PalisadeError(ErrorCodes.STORE_FAILURE, `sqlite ${op} failed: ${message}`, { cause: err });
}

/**
 * The driver is synchronous; the port is async so a networked store fits the same interface.
 * Running the work eagerly (not in a microtask) keeps each call atomic with respect to other
 * JS, which is what lets the repos skip locking.
 */
export function attempt<T>(op: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(toStoreError(op, err));
  }
}

export type Transaction = <T>(fn: () => T) => T;

/**
 * IMMEDIATE takes the write lock up front, so a second process on the same file waits on
 * busy_timeout at BEGIN instead of failing with SQLITE_BUSY mid-transaction on lock upgrade.
 * A call made while a transaction is already open joins it, so repos can compose.
 */
export function transactionFor(db: DatabaseSync): Transaction {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  return <T>(fn: () => T): T => {
    if (db.isTransaction) return fn();
    begin.run();
    try {
      const result = fn();
      commit.run();
      return result;
    } catch (err) {
      // A failed COMMIT can leave the transaction open (e.g. SQLITE_BUSY); some errors roll back on their own.
      if (db.isTransaction) rollback.run();
      throw err;
    }
  };
}
