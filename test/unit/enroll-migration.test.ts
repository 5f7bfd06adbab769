/**
 * Store v7 rebuilds `certificates` to admit the kind 'bootstrap' (a CHECK cannot be altered in
 * place). An existing database keeps every certificate row, its revocation state and indexes.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS, applyMigrations } from '../../src/store/sqlite/migrations.ts';

describe('store v7 migration', () => {
  it('keeps certificate rows and admits bootstrap certificates', () => {
    const db = new DatabaseSync(':memory:');
    applyMigrations(db, SQLITE_MIGRATIONS.filter((m) => m.version < 7));
    const insert = db.prepare('INSERT INTO certificates (serial, kind, device_id, subject, not_before, not_after, fingerprint, pem, revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    insert.run('01', 'device', 'd1', 'CN=d1', 1, 2, 'f1', 'p1', 5, 'keyCompromise');
    insert.run('02', 'server', null, 'CN=s', 1, 2, 'f2', 'p2', null, null);
    expect(() => insert.run('03', 'bootstrap', 'd1', 'CN=b', 1, 2, 'f3', 'p3', null, null)).toThrow(/CHECK/);

    applyMigrations(db);
    expect(db.prepare('SELECT serial, kind, revoked_at, revocation_reason FROM certificates ORDER BY serial').all()).toEqual([
      { serial: '01', kind: 'device', revoked_at: 5, revocation_reason: 'keyCompromise' },
      { serial: '02', kind: 'server', revoked_at: null, revocation_reason: null },
    ]);
    insert.run('03', 'bootstrap', 'd1', 'CN=b', 1, 2, 'f3', 'p3', null, null);
    expect(() => insert.run('04', 'nonsense', 'd1', 'CN=b', 1, 2, 'f4', 'p4', null, null)).toThrow(/CHECK/);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
    expect(indexes).toEqual([{ name: 'certificates_by_device' }, { name: 'certificates_revoked' }]);
    db.close();
  });
});
