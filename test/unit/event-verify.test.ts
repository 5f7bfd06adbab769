/**
 * `palisade events verify` against a real SQLite file tampered with by raw SQL (issue 3,
 * point 9): an edited, inserted and deleted row, a truncated tail, a chain re-hashed by someone
 * without the signing key, checkpoints forged with another key. Each is found, with its event id.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerEventsCommands } from '../../src/cli/events.ts';
import { ed25519Signer, signCheckpoint } from '../../src/core/events/checkpoint.ts';
import { EventCheckpointer } from '../../src/core/events/checkpointer.ts';
import { hashEvent } from '../../src/core/events/event-hash.ts';
import { EventLog } from '../../src/core/events/event-log.ts';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import { ensureEventSigningKey, eventKeyPaths } from '../../src/store/event-signing-key.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'palisade-events-verify-'));
const pristine = join(root, 'pristine');
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** 35 events, checkpoints after events 10, 20 and 30; 31..35 chained but not yet signed. */
beforeAll(async () => {
  const secrets = openSecretBox(pristine, { masterKeyFile: null, masterKeyEnv: null });
  const store = await openSqliteStore(join(pristine, 'palisade.db'));
  const log = new EventLog(store.events);
  const checkpoints = new EventCheckpointer(store.events, log, ensureEventSigningKey(pristine, secrets), { everyEvents: 1_000_000, everyMs: 3_600_000 });
  for (let i = 1; i <= 35; i++) {
    log.record(i % 7 === 0 ? 'auth.failed' : 'mqtt.connected', i % 7 === 0 ? 'warning' : 'info', { principal: `dev-${i % 4}`, source: `192.0.2.${i}:1883`, detail: { i, nested: { z: i, a: [i, null] } } });
    if (i % 10 === 0) await checkpoints.checkpoint();
  }
  await log.flush();
  await store.close();
});

let n = 0;
/** A fresh copy of the pristine data dir, and a raw connection to tamper with it. */
function copy(): { dir: string; db: DatabaseSync } {
  const dir = join(root, `case-${n++}`);
  cpSync(pristine, dir, { recursive: true });
  return { dir, db: new DatabaseSync(join(dir, 'palisade.db')) };
}

async function verify(dir: string, ...extra: string[]): Promise<{ out: string[]; error: PalisadeError | null }> {
  const program = new Command().name('palisade').exitOverride();
  registerEventsCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', 'events', 'verify', '--data-dir', dir, ...extra]);
    return { out, error: null };
  } catch (err) {
    if (err instanceof PalisadeError) return { out, error: err };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

async function problem(dir: string, ...extra: string[]): Promise<{ kind: unknown; eventId: unknown; message: string }> {
  const r = await verify(dir, ...extra);
  expect(r.error?.code).toBe(ErrorCodes.EVENT_LOG_INVALID);
  return { kind: r.error?.detail?.kind, eventId: r.error?.detail?.eventId, message: r.error?.message ?? '' };
}

interface Row {
  id: number;
  ts: number;
  type: string;
  severity: 'info' | 'warning' | 'critical';
  principal: string | null;
  source: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

function rows(db: DatabaseSync): Row[] {
  return db.prepare('SELECT * FROM security_events ORDER BY id').all() as unknown as Row[];
}

/** What someone with write access but without the key can do: re-hash from `fromId` on with the public formula. */
function rehash(db: DatabaseSync, fromId: number): void {
  const update = db.prepare('UPDATE security_events SET prev_hash = ?, hash = ? WHERE id = ?');
  let prev: string | null = null;
  for (const r of rows(db)) {
    if (r.id >= fromId && prev !== null) {
      const hash = hashEvent(prev, { ...r, detail: JSON.parse(r.detail) as Record<string, unknown> });
      update.run(prev, hash, r.id);
      prev = hash;
    } else prev = r.hash;
  }
}

describe('palisade events verify', () => {
  it('passes an intact log with one summary line', async () => {
    const { dir, db } = copy();
    db.close();
    const r = await verify(dir);
    expect(r.error).toBeNull();
    expect(r.out).toEqual(['ok: 35 events, 3 checkpoints, last signed at id 30']);
  });

  it('finds an edited row', async () => {
    const { dir, db } = copy();
    db.prepare(`UPDATE security_events SET principal = 'someone-else' WHERE id = 12`).run();
    db.close();
    expect(await problem(dir)).toEqual({ kind: 'edited', eventId: 12, message: 'event 12: hash mismatch, the row was edited' });
  });

  it('finds an inserted row, even one whose own hash is right', async () => {
    const { dir, db } = copy();
    // Make room after 12 (two steps: a one-step shift collides on the primary key), then forge 13.
    db.exec('UPDATE security_events SET id = id + 1000 WHERE id > 12; UPDATE security_events SET id = id - 999 WHERE id > 1000;');
    const twelve = rows(db).find((r) => r.id === 12)!;
    const forged = { id: 13, ts: twelve.ts + 1, type: 'admin.login', severity: 'info' as const, principal: 'admin', source: null, detail: {} };
    db.prepare('INSERT INTO security_events (id, ts, type, severity, principal, source, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      forged.id, forged.ts, forged.type, forged.severity, forged.principal, forged.source, '{}', twelve.hash, hashEvent(twelve.hash, forged),
    );
    db.close();
    const p = await problem(dir);
    expect(p.kind).toBe('inserted');
    expect(p.eventId).toBe(13);
    expect(p.message).toBe('event 13: inserted row (event 14 chains to the event before it)');
  });

  it('finds a deleted row', async () => {
    const { dir, db } = copy();
    db.prepare('DELETE FROM security_events WHERE id = 12').run();
    db.close();
    expect(await problem(dir)).toEqual({ kind: 'deleted', eventId: 12, message: 'event 12: missing, id gap between events 11 and 13 (event 12 deleted)' });
  });

  it('finds a deleted row whose successors were renumbered to close the gap', async () => {
    const { dir, db } = copy();
    db.exec('DELETE FROM security_events WHERE id = 12; UPDATE security_events SET id = id + 1000 WHERE id > 12; UPDATE security_events SET id = id - 1001 WHERE id > 1000;');
    db.close();
    // Renumbered rows hide the id gap, but the first of them still names the deleted row's hash.
    expect(await problem(dir)).toEqual({ kind: 'chain-break', eventId: 12, message: 'event 12: prev_hash does not match the hash of event 11 (a row before it was re-hashed, inserted or deleted)' });
  });

  it('finds a deleted first row', async () => {
    const { dir, db } = copy();
    db.prepare('DELETE FROM security_events WHERE id = 1').run();
    db.close();
    expect(await problem(dir)).toMatchObject({ kind: 'deleted', eventId: 1 });
  });

  it('finds a truncated tail that a checkpoint covers', async () => {
    const { dir, db } = copy();
    db.prepare('DELETE FROM security_events WHERE id > 25').run();
    db.close();
    expect(await problem(dir)).toEqual({ kind: 'truncated', eventId: 30, message: 'event 30: signed by checkpoint 3 but the log ends at event 25 (tail truncated)' });
  });

  it('finds a consistent chain re-hashed without the key (edit then re-hash everything after it)', async () => {
    const { dir, db } = copy();
    db.prepare(`UPDATE security_events SET detail = '{"i":12}' WHERE id = 12`).run();
    rehash(db, 12);
    db.close();
    expect(await problem(dir)).toEqual({ kind: 'rewritten', eventId: 20, message: 'event 20: differs from what checkpoint 2 signed (the log was rewritten)' });
  });

  it('finds checkpoints altered to match a re-hashed chain: their signatures fail', async () => {
    const { dir, db } = copy();
    db.prepare(`UPDATE security_events SET detail = '{"i":12}' WHERE id = 12`).run();
    rehash(db, 12);
    db.exec(`UPDATE security_event_checkpoints SET last_hash = (SELECT hash FROM security_events e WHERE e.id = last_event_id)`);
    db.close();
    expect(await problem(dir)).toEqual({ kind: 'bad-signature', eventId: 20, message: 'event 20: checkpoint 2 has a bad signature (forged or altered)' });
  });

  it('finds checkpoints re-signed with a key of the forger’s own', async () => {
    const { dir, db } = copy();
    db.prepare(`UPDATE security_events SET detail = '{"i":12}' WHERE id = 12`).run();
    rehash(db, 12);
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    const resign = db.prepare('UPDATE security_event_checkpoints SET last_hash = ?, key_id = ?, signature = ? WHERE id = ?');
    const cps = db.prepare('SELECT id, last_event_id, event_count, ts FROM security_event_checkpoints').all() as unknown as { id: number; last_event_id: number; event_count: number; ts: number }[];
    for (const cp of cps) {
      const lastHash = rows(db).find((r) => r.id === cp.last_event_id)!.hash;
      const signed = signCheckpoint(forger, { lastEventId: cp.last_event_id, lastHash, count: cp.event_count, ts: cp.ts });
      resign.run(lastHash, signed.keyId, signed.signature, cp.id);
    }
    // A fake truncation claim is a forgery too: a checkpoint beyond the end that does not verify.
    const fake = signCheckpoint(forger, { lastEventId: 99, lastHash: 'ab'.repeat(32), count: 99, ts: Date.now() });
    db.prepare('INSERT INTO security_event_checkpoints (last_event_id, last_hash, event_count, ts, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)').run(99, fake.lastHash, 99, fake.ts, fake.keyId, fake.signature);
    db.close();
    const p = await problem(dir);
    expect(p.kind).toBe('bad-signature');
    expect(p.eventId).toBe(10);
    expect(p.message).toMatch(new RegExp(`^event 10: checkpoint 1 is signed by key ${forger.keyId}, not by the event-log key [0-9a-f]{16} \\(forged\\)$`));
  });

  it('finds a forger who also replaced the public key file, when the key is pinned with --public-key', async () => {
    const { dir, db } = copy();
    const pinned = join(root, `pinned-${n}.pem`);
    cpSync(eventKeyPaths(dir).publicKey, pinned);
    db.prepare(`UPDATE security_events SET detail = '{"i":12}' WHERE id = 12`).run();
    rehash(db, 12);
    const pair = generateKeyPairSync('ed25519');
    const forger = ed25519Signer(pair.privateKey);
    for (const cp of db.prepare('SELECT id, last_event_id, event_count, ts FROM security_event_checkpoints').all() as unknown as { id: number; last_event_id: number; event_count: number; ts: number }[]) {
      const lastHash = rows(db).find((r) => r.id === cp.last_event_id)!.hash;
      const signed = signCheckpoint(forger, { lastEventId: cp.last_event_id, lastHash, count: cp.event_count, ts: cp.ts });
      db.prepare('UPDATE security_event_checkpoints SET last_hash = ?, key_id = ?, signature = ? WHERE id = ?').run(lastHash, signed.keyId, signed.signature, cp.id);
    }
    db.close();
    writeFileSync(eventKeyPaths(dir).publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    // Against the replaced file the forgery is consistent; against the pinned key it is not.
    expect((await verify(dir)).error).toBeNull();
    expect(await problem(dir, '--public-key', pinned)).toMatchObject({ kind: 'bad-signature', eventId: 10 });
  });

  it('exits 1 with one clear line from the real command, and 0 with the summary', async () => {
    const { dir, db } = copy();
    db.close();
    const ok = await run(process.execPath, ['src/cli/main.ts', 'events', 'verify', '--data-dir', dir]);
    expect(ok.stdout).toBe('ok: 35 events, 3 checkpoints, last signed at id 30\n');
    const tampered = new DatabaseSync(join(dir, 'palisade.db'));
    tampered.prepare('DELETE FROM security_events WHERE id = 7').run();
    tampered.close();
    const bad = await run(process.execPath, ['src/cli/main.ts', 'events', 'verify', '--data-dir', dir]).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('palisade: event 7: missing, id gap between events 6 and 8 (event 7 deleted)\n');
  });
});
