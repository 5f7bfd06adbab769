/**
 * Signed checkpoints of the event log (issue 3, point 9): written every N events or T seconds
 * and at gateway stop; the signing key sealed at rest and re-wrapped by `palisade keys rotate`,
 * the public key in clear.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rotateMasterKey } from '../../src/cli/keys.ts';
import { checkpointSignatureValid, type EventCheckpoint } from '../../src/core/events/checkpoint.ts';
import { EventCheckpointer } from '../../src/core/events/checkpointer.ts';
import { EventLog } from '../../src/core/events/event-log.ts';
import { verifyEventLog } from '../../src/core/events/verify.ts';
import { sealedKeyId } from '../../src/core/secrets/index.ts';
import { ensureEventSigningKey, eventKeyPaths, loadEventPublicKey } from '../../src/store/event-signing-key.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startTestGateway } from './helpers/gateway.ts';

const root = mkdtempSync(join(tmpdir(), 'palisade-event-checkpoints-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const SETTINGS = { masterKeyFile: null, masterKeyEnv: null };
let n = 0;

function dataDir(): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function nextCheckpoint(): { onCheckpoint: (cp: EventCheckpoint) => void; next: () => Promise<EventCheckpoint> } {
  let waiting: ((cp: EventCheckpoint) => void) | null = null;
  const queued: EventCheckpoint[] = [];
  return {
    onCheckpoint: (cp) => {
      if (waiting) {
        waiting(cp);
        waiting = null;
      } else queued.push(cp);
    },
    next: () => {
      const cp = queued.shift();
      return cp ? Promise.resolve(cp) : new Promise((ok) => (waiting = ok));
    },
  };
}

describe('event log checkpoints', () => {
  it('signs every N events recorded, covering exactly the events so far', async () => {
    const dir = dataDir();
    const store = await openSqliteStore(join(dir, 'palisade.db'));
    const log = new EventLog(store.events);
    const signer = ensureEventSigningKey(dir, openSecretBox(dir, SETTINGS));
    const seen = nextCheckpoint();
    const checkpointer = new EventCheckpointer(store.events, log, signer, { everyEvents: 10, everyMs: 3_600_000, onCheckpoint: seen.onCheckpoint });
    checkpointer.start();
    for (let i = 0; i < 10; i++) log.record('t', 'info', { detail: { i } });
    const first = await seen.next();
    expect(first).toMatchObject({ id: 1, lastEventId: 10, count: 10, keyId: signer.keyId });
    expect(first.lastHash).toBe((await store.events.last())?.hash);
    const publicKey = loadEventPublicKey(dir)!;
    expect(checkpointSignatureValid(first, publicKey)).toBe(true);
    expect(checkpointSignatureValid({ ...first, count: 11 }, publicKey)).toBe(false);

    for (let i = 0; i < 9; i++) log.record('t', 'info');
    await log.flush();
    expect(await store.events.listCheckpoints()).toHaveLength(1);
    log.record('t', 'info');
    expect(await seen.next()).toMatchObject({ id: 2, lastEventId: 20, count: 20 });

    // At stop: the events since the last one; with nothing new, no further row.
    log.record('t', 'info');
    expect(await checkpointer.stop()).toMatchObject({ id: 3, lastEventId: 21 });
    expect(await checkpointer.checkpoint()).toBeNull();
    const report = await verifyEventLog(await store.events.list(), { checkpoints: await store.events.listCheckpoints(), publicKey });
    expect(report).toMatchObject({ problem: null, events: 21, checkpoints: 3, lastSignedId: 21 });
    await store.close();
  });

  it('signs every T milliseconds when events arrive, also from another writer, and not when idle', async () => {
    const dir = dataDir();
    const store = await openSqliteStore(join(dir, 'palisade.db'));
    const other = await openSqliteStore(join(dir, 'palisade.db'));
    const log = new EventLog(store.events);
    const seen = nextCheckpoint();
    const checkpointer = new EventCheckpointer(store.events, log, ensureEventSigningKey(dir, openSecretBox(dir, SETTINGS)), { everyEvents: 1000, everyMs: 50, onCheckpoint: seen.onCheckpoint });
    checkpointer.start();
    log.record('t', 'info');
    expect(await seen.next()).toMatchObject({ lastEventId: 1 });
    // Another process's append is covered by the timer, which sees the table, not just this log.
    await other.events.append({ ts: Date.now(), type: 'cli', severity: 'info', principal: null, source: null, detail: {} });
    expect(await seen.next()).toMatchObject({ lastEventId: 2, count: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.events.listCheckpoints()).toHaveLength(2);
    await checkpointer.stop();
    await other.close();
    await store.close();
  });

  it('keeps the private key sealed (0600) and the public key in clear; keys rotate re-wraps it', async () => {
    const dir = dataDir();
    const signer = ensureEventSigningKey(dir, openSecretBox(dir, SETTINGS));
    const paths = eventKeyPaths(dir);
    const sealed = readFileSync(paths.sealed, 'utf8');
    expect(sealed).not.toMatch(/PRIVATE KEY/);
    expect(statSync(paths.sealed).mode & 0o077).toBe(0);
    expect(readFileSync(paths.publicKey, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const kidBefore = sealedKeyId(sealed.trim());

    const result = await rotateMasterKey({ dataDir: dir, settings: SETTINGS, log: () => undefined });
    const resealed = readFileSync(paths.sealed, 'utf8').trim();
    expect(sealedKeyId(resealed)).toBe(result.current);
    expect(result.current).not.toBe(kidBefore);
    expect(result.retired).toContain(kidBefore);
    // Same key pair after rotation: checkpoints signed before still verify.
    expect(ensureEventSigningKey(dir, openSecretBox(dir, SETTINGS)).keyId).toBe(signer.keyId);
  });

  it('writes a checkpoint at gateway stop, from the events config section', async () => {
    const gw = await startTestGateway({ events: { checkpointEveryEvents: 3, checkpointEverySeconds: 3600 } });
    const dir = gw.dataDir;
    try {
      for (let i = 0; i < 4; i++) gw.gateway.events.record('test.event', 'info', { detail: { i } });
      await gw.gateway.events.flush();
    } finally {
      await gw.gateway.stop();
    }
    const store = await openSqliteStore(join(dir, 'palisade.db'));
    try {
      const events = await store.events.list();
      const checkpoints = await store.events.listCheckpoints();
      // gateway.started + 4 + gateway.stopped; at least one from the every-3 rule, and the last at stop.
      expect(events.at(-1)?.type).toBe('gateway.stopped');
      expect(checkpoints.length).toBeGreaterThanOrEqual(2);
      expect(checkpoints.at(-1)?.lastEventId).toBe(events.at(-1)?.id);
      const report = await verifyEventLog(events, { checkpoints, publicKey: loadEventPublicKey(dir) });
      expect(report.problem).toBeNull();
      expect(report.lastSignedId).toBe(events.at(-1)?.id);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
