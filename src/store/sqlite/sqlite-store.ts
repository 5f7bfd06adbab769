/**
 * The embedded `Store`: one node:sqlite connection per gateway process, in WAL mode so readers
 * (admin API, CLI) never block the broker's writes. Opening applies pending migrations.
 */
import { chmodSync, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Store } from '../../core/ports.ts';
import { SqliteCertificateRepo } from './certificate-repo.ts';
import { SqliteChangeRepo } from './change-repo.ts';
import { SqliteDeviceRepo, SqliteSegmentRepo } from './device-repo.ts';
import { SqliteEventRepo } from './event-repo.ts';
import { SqliteEnrollmentRepo } from './enrollment-repo.ts';
import { SqliteDevicePskRepo } from './device-psk-repo.ts';
import { SqliteMessageRepo } from './message-repo.ts';
import { SqlitePolicyRepo } from './policy-repo.ts';
import { SqliteOperatorRepo } from './operator-repo.ts';
import { SqliteOperatorTokenRepo } from './operator-token-repo.ts';
import { applyMigrations, readSchemaVersion } from './migrations.ts';
import { SqliteRetainedRepo } from './retained-repo.ts';
import { SqliteSessionRepo } from './session-repo.ts';
import { SqliteQueueRepo } from './queue-repo.ts';
import { SqliteShadowRepo } from './shadow-repo.ts';
import { SqliteReplayRepo } from './replay-repo.ts';
import { SqliteBanRepo } from './ban-repo.ts';
import { SqliteDnsQueryRepo } from './dns-query-repo.ts';
import { attempt, int, text, toStoreError, transactionFor, type Row } from './sql-util.ts';

/** Long enough to ride out a CLI process holding the write lock briefly; short enough to surface a stuck one. */
const BUSY_TIMEOUT_MS = 5000;

export interface SqlitePragmas {
  journalMode: string;
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  synchronous: number;
  foreignKeys: boolean;
  busyTimeoutMs: number;
}

/** The Store plus connection diagnostics that only make sense for SQLite (used by tests and `doctor`). */
export interface SqliteStore extends Store {
  readonly path: string;
  pragmas(): Promise<SqlitePragmas>;
}

/** ':memory:', the anonymous temp db and URI filenames get no directory or permission handling. */
function isPlainFilePath(path: string): boolean {
  return path !== ':memory:' && path !== '' && !path.startsWith('file:');
}

function readPragma(db: DatabaseSync, name: string): Row {
  return db.prepare(`PRAGMA ${name}`).get() ?? {};
}

export async function openSqliteStore(path: string): Promise<SqliteStore> {
  const fileBacked = isPlainFilePath(path);
  let created = false;
  if (fileBacked) {
    // 0700: the directory holds password hashes and the security event log.
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    created = !existsSync(path);
  }

  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw toStoreError('open', err);
  }
  try {
    // Before WAL is enabled, so the -wal/-shm files SQLite creates inherit owner-only permissions.
    if (created && process.platform !== 'win32') chmodSync(path, 0o600);
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL is durable against process crashes in WAL mode; only an OS crash can lose the last commits.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    applyMigrations(db);
  } catch (err) {
    db.close();
    throw toStoreError('open', err);
  }
  return buildStore(db, path);
}

function buildStore(db: DatabaseSync, path: string): SqliteStore {
  const tx = transactionFor(db);
  return {
    path,
    devices: new SqliteDeviceRepo(db, tx),
    segments: new SqliteSegmentRepo(db),
    certificates: new SqliteCertificateRepo(db),
    sessions: new SqliteSessionRepo(db, tx),
    retained: new SqliteRetainedRepo(db),
    messages: new SqliteMessageRepo(db, tx),
    events: new SqliteEventRepo(db),
    policies: new SqlitePolicyRepo(db, tx),
    operators: new SqliteOperatorRepo(db),
    operatorTokens: new SqliteOperatorTokenRepo(db),
    enrollment: new SqliteEnrollmentRepo(db),
    devicePsks: new SqliteDevicePskRepo(db),
    changes: new SqliteChangeRepo(db),
    queues: new SqliteQueueRepo(db, tx),
    shadows: new SqliteShadowRepo(db, tx),
    replay: new SqliteReplayRepo(db, tx),
    bans: new SqliteBanRepo(db),
    dnsQueries: new SqliteDnsQueryRepo(db, tx),
    schemaVersion: () => attempt('schemaVersion', () => readSchemaVersion(db)),
    pragmas: () =>
      attempt('pragmas', () => ({
        journalMode: text(readPragma(db, 'journal_mode'), 'journal_mode'),
        synchronous: int(readPragma(db, 'synchronous'), 'synchronous'),
        foreignKeys: int(readPragma(db, 'foreign_keys'), 'foreign_keys') === 1,
        busyTimeoutMs: int(readPragma(db, 'busy_timeout'), 'timeout'),
      })),
    close: () =>
      attempt('close', () => {
        // Idempotent so shutdown paths that race (signal + fatal error) do not throw on the second call.
        if (!db.isOpen) return;
        // Lets SQLite refresh planner statistics it found missing during this connection's life.
        db.exec('PRAGMA optimize');
        db.close();
      }),
  };
}
