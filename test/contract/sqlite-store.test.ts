/**
 * Runs the Store contract against the embedded SQLite store (a real file in a temp dir, and
 * ':memory:'), then checks what only SQLite has: connection pragmas, versioned migrations,
 * persistence across reopen, and on-disk column types.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import type { SessionRecord } from '../../src/core/ports.ts';
import { SQLITE_MIGRATIONS, applyMigrations, type Migration } from '../../src/store/sqlite/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { runStoreContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-sqlite-'));
let counter = 0;
const freshPath = (): string => join(dir, `store-${++counter}.db`);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

runStoreContract('sqlite (file)', () => openSqliteStore(freshPath()));
runStoreContract('sqlite (:memory:)', () => openSqliteStore(':memory:'));

/** A second, independent connection: it sees only what is really on disk. */
function inspect<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const T0 = 1_700_000_000_000;
const latestVersion = SQLITE_MIGRATIONS.at(-1)!.version;

describe('SQLite store specifics', () => {
  it('runs in WAL mode with synchronous=NORMAL, foreign keys on and a busy timeout', async () => {
    const path = freshPath();
    const store = await openSqliteStore(path);
    try {
      expect(await store.pragmas()).toEqual({ journalMode: 'wal', synchronous: 1, foreignKeys: true, busyTimeoutMs: 5000 });
      // journal_mode=WAL is persistent in the file, so an outside connection must see it too.
      expect(inspect(path, (db) => db.prepare('PRAGMA journal_mode').get())).toEqual({ journal_mode: 'wal' });
    } finally {
      await store.close();
    }
  });

  it('creates missing parent directories and an owner-only database file', async () => {
    const path = join(dir, 'nested', 'deeper', 'palisade.db');
    const store = await openSqliteStore(path);
    await store.close();
    if (process.platform !== 'win32') {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'nested', 'deeper')).mode & 0o777).toBe(0o700);
    }
  });

  it('records each migration once, and reopening changes neither version nor history', async () => {
    const path = freshPath();
    const first = await openSqliteStore(path);
    expect(await first.schemaVersion()).toBe(latestVersion);
    await first.close();
    const history = (): unknown[] =>
      inspect(path, (db) => db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all());
    const expected = SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name }));
    expect(history()).toEqual(expected);

    for (let i = 0; i < 2; i++) {
      const again = await openSqliteStore(path);
      expect(await again.schemaVersion()).toBe(latestVersion);
      await again.close();
    }
    expect(history()).toEqual(expected);
  });

  it('keeps data across close and reopen, with ids continuing after the last event', async () => {
    const path = freshPath();
    const payload = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const s1 = await openSqliteStore(path);
    await s1.devices.create({ id: 'd', segment: 's', status: 'active', attrs: { k: 'v' }, passwordHash: null, createdAt: T0 });
    await s1.segments.upsert({ name: 's', description: 'seg', createdAt: T0 });
    await s1.sessions.save({ clientId: 'c', principalId: 'd', protocolVersion: 5, expiryInterval: 0xffffffff, disconnectedAt: T0, createdAt: T0 });
    await s1.sessions.setSubscription({ clientId: 'c', filter: 'a/#', qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionId: 9 });
    await s1.retained.set({ topic: 'a/b', payload, qos: 1, properties: { contentType: 'bin' }, expiresAt: null, storedAt: T0 });
    await s1.messages.write([
      { kind: 'put', message: { clientId: 'c', seq: 1, packetId: 3, state: 'sent', topic: 'a/b', payload, qos: 2, retain: false, properties: {}, subscriptionIds: [9], expiresAt: null } },
      { kind: 'qos2-in-add', clientId: 'c', packetId: 11 },
    ]);
    const e1 = await s1.events.append({ ts: T0, type: 't', severity: 'info', principal: null, source: null, detail: {} });
    await s1.close();

    const s2 = await openSqliteStore(path);
    try {
      expect((await s2.devices.get('d'))?.attrs).toEqual({ k: 'v' });
      expect(await s2.segments.get('s')).not.toBeNull();
      expect((await s2.sessions.get('c'))?.expiryInterval).toBe(0xffffffff);
      expect(await s2.sessions.listSubscriptions('c')).toHaveLength(1);
      expect((await s2.retained.get('a/b'))?.payload.equals(payload)).toBe(true);
      const [m] = await s2.messages.listForSession('c');
      expect(m?.payload.equals(payload)).toBe(true);
      expect(m?.state).toBe('sent');
      expect(await s2.messages.listIncomingQos2('c')).toEqual([11]);
      expect(await s2.events.last()).toStrictEqual(e1);
      const e2 = await s2.events.append({ ts: T0 + 1, type: 't', severity: 'info', principal: null, source: null, detail: {} });
      expect(e2.id).toBeGreaterThan(e1.id);
      // The chain continues from the row stored by the first connection.
      expect(e2.prevHash).toBe(e1.hash);
    } finally {
      await s2.close();
    }
  });

  it('does not share data between two :memory: stores', async () => {
    const a = await openSqliteStore(':memory:');
    const b = await openSqliteStore(':memory:');
    await a.segments.upsert({ name: 'only-in-a', description: '', createdAt: T0 });
    expect(await b.segments.list()).toEqual([]);
    await a.close();
    await b.close();
  });

  it('refuses a database whose schema is newer than this build', async () => {
    const path = freshPath();
    await (await openSqliteStore(path)).close();
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(latestVersion + 1, 'from the future', T0);
    db.close();
    await expect(openSqliteStore(path)).rejects.toMatchObject({ code: ErrorCodes.STORE_FAILURE });
  });

  it('applies only pending migrations, each exactly once', () => {
    const db = new DatabaseSync(':memory:');
    const m1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE t1 (x INTEGER) STRICT;' };
    const m2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE t2 (x INTEGER) STRICT;' };
    expect(applyMigrations(db, [m1])).toBe(1);
    // Re-running m1's CREATE TABLE would fail, so success proves it was skipped.
    expect(applyMigrations(db, [m1, m2])).toBe(2);
    expect(applyMigrations(db, [m1, m2])).toBe(2);
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual([{ version: 1 }, { version: 2 }]);
    db.close();
  });

  it('applies a migration numbered below the highest applied one when it was missed', () => {
    const db = new DatabaseSync(':memory:');
    const m1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE t1 (x INTEGER) STRICT;' };
    const m2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE t2 (x INTEGER) STRICT;' };
    const m3: Migration = { version: 3, name: 'three', sql: 'CREATE TABLE t3 (x INTEGER) STRICT;' };
    // A build that had 1 and 3 (2 was merged later) created this database.
    expect(applyMigrations(db, [m1, m3])).toBe(3);
    expect(applyMigrations(db, [m1, m2, m3])).toBe(3);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name").all()).toEqual([{ name: 't1' }, { name: 't2' }, { name: 't3' }]);
    db.close();
  });

  it('rolls back every pending migration when one of them fails', () => {
    const db = new DatabaseSync(':memory:');
    const good: Migration = { version: 1, name: 'good', sql: 'CREATE TABLE t1 (x INTEGER) STRICT;' };
    const bad: Migration = { version: 2, name: 'bad', sql: 'CREATE TABLE t2 (x INTEGER); THIS IS NOT SQL;' };
    expect(() => applyMigrations(db, [good, bad])).toThrow();
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    expect(tables).toEqual([]);
    expect(db.isTransaction).toBe(false);
    expect(applyMigrations(db, [good])).toBe(1);
    db.close();
  });

  it('rejects migration lists whose versions do not increase', () => {
    const db = new DatabaseSync(':memory:');
    const m = (version: number): Migration => ({ version, name: `m${version}`, sql: 'SELECT 1;' });
    expect(() => applyMigrations(db, [m(2), m(1)])).toThrow(PalisadeError);
    expect(() => applyMigrations(db, [m(1), m(1)])).toThrow(PalisadeError);
    expect(() => applyMigrations(db, [m(0)])).toThrow(PalisadeError);
    db.close();
  });

  it('stores payloads as BLOBs, booleans as 0/1 and JSON columns as valid JSON', async () => {
    const path = freshPath();
    const store = await openSqliteStore(path);
    await store.messages.write([
      { kind: 'put', message: { clientId: 'c', seq: 1, packetId: null, state: 'queued', topic: 't', payload: Buffer.alloc(0), qos: 1, retain: true, properties: { contentType: 'x' }, subscriptionIds: [1, 2], expiresAt: null } },
    ]);
    await store.devices.create({ id: 'd', segment: 's', status: 'active', attrs: { a: 'b' }, passwordHash: null, createdAt: T0 });
    await store.close();
    inspect(path, (db) => {
      expect(
        db.prepare(`SELECT typeof(payload) AS p, retain, json_valid(properties) AS jp, json_valid(subscription_ids) AS js FROM stored_messages`).get(),
      ).toEqual({ p: 'blob', retain: 1, jp: 1, js: 1 });
      expect(db.prepare('SELECT json_valid(attrs) AS ja, typeof(password_hash) AS ph FROM devices').get()).toEqual({ ja: 1, ph: 'null' });
    });
  });

  it('surfaces constraint violations as STORE_FAILURE without breaking the connection', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      const bad = { clientId: 'c', principalId: 'p', protocolVersion: 6, expiryInterval: 0, disconnectedAt: null, createdAt: T0 } as unknown as SessionRecord;
      await expect(store.sessions.save(bad)).rejects.toMatchObject({ code: ErrorCodes.STORE_FAILURE });
      // STRICT tables refuse a fractional timestamp rather than storing a REAL.
      await expect(
        store.sessions.save({ clientId: 'c', principalId: 'p', protocolVersion: 5, expiryInterval: 0, disconnectedAt: null, createdAt: 1.5 }),
      ).rejects.toMatchObject({ code: ErrorCodes.STORE_FAILURE });
      expect(await store.sessions.get('c')).toBeNull();
      await store.sessions.save({ clientId: 'c', principalId: 'p', protocolVersion: 5, expiryInterval: 0, disconnectedAt: null, createdAt: T0 });
      expect(await store.sessions.get('c')).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  it('rejects operations after close with STORE_FAILURE, and close is idempotent', async () => {
    const store = await openSqliteStore(':memory:');
    await store.close();
    await store.close();
    await expect(store.devices.get('x')).rejects.toMatchObject({ code: ErrorCodes.STORE_FAILURE });
    await expect(store.messages.write([{ kind: 'qos2-in-add', clientId: 'c', packetId: 1 }])).rejects.toBeInstanceOf(PalisadeError);
  });

  it('rejects an unopenable path with STORE_FAILURE', async () => {
    // A directory where the database file should be.
    await expect(openSqliteStore(dir)).rejects.toMatchObject({ code: ErrorCodes.STORE_FAILURE });
  });
});
