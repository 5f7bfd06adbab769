/**
 * `palisade events export|list` and `events verify --file` (issue 3, point 9), in process on a
 * real SQLite store; the export carries every field, so its chain verifies on its own.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerEventsCommands } from '../../src/cli/events.ts';
import { EventCheckpointer } from '../../src/core/events/checkpointer.ts';
import { hashEvent } from '../../src/core/events/event-hash.ts';
import { EventLog } from '../../src/core/events/event-log.ts';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import type { SecurityEvent } from '../../src/core/ports.ts';
import { ensureEventSigningKey } from '../../src/store/event-signing-key.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-events-cli-'));
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** 30 events (every third a denial), checkpoints after 10, 20 and 30. */
beforeAll(async () => {
  const store = await openSqliteStore(join(data, 'palisade.db'));
  const log = new EventLog(store.events);
  const checkpoints = new EventCheckpointer(store.events, log, ensureEventSigningKey(data, openSecretBox(data, { masterKeyFile: null, masterKeyEnv: null })), { everyEvents: 1e9, everyMs: 3_600_000 });
  for (let i = 1; i <= 30; i++) {
    if (i % 3 === 0) log.record('policy.denied', 'warning', { principal: `cam-${i}`, source: `198.51.100.${i}:40000`, detail: { action: 'mqtt:publish', topic: `video/cam-${i}/x`, ünï: '😀' } });
    else log.record('mqtt.connected', 'info', { principal: `cam-${i}`, detail: { i } });
    if (i % 10 === 0) await checkpoints.checkpoint();
  }
  await log.flush();
  await store.close();
});

async function palisade(...args: string[]): Promise<{ out: string[]; error: PalisadeError | null }> {
  const program = new Command().name('palisade').exitOverride();
  registerEventsCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', 'events', ...args, '--data-dir', data]);
    return { out, error: null };
  } catch (err) {
    if (err instanceof PalisadeError) return { out, error: err };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

function readLines(file: string): SecurityEvent[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SecurityEvent);
}

describe('palisade events export', () => {
  it('writes one JSON event per line with every field, 0600, and the export verifies on its own', async () => {
    const file = join(dir, 'all.jsonl');
    const r = await palisade('export', '--out', file);
    expect(r.out).toEqual([`exported 30 events to ${file}`]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readLines(file);
    expect(lines).toHaveLength(30);
    expect(Object.keys(lines[2]!).sort()).toEqual(['detail', 'hash', 'id', 'prevHash', 'principal', 'severity', 'source', 'ts', 'type']);
    expect(lines[2]).toMatchObject({ id: 3, type: 'policy.denied', principal: 'cam-3', detail: { ünï: '😀' } });
    expect(lines[1]!.hash).toBe(lines[2]!.prevHash);
    const v = await palisade('verify', '--file', file);
    expect(v.error).toBeNull();
    expect(v.out).toEqual(['ok: 30 events, 3 checkpoints, last signed at id 30']);
  });

  it('exports after an id and of one type; a partial export verifies from its first event', async () => {
    const since = join(dir, 'since.jsonl');
    await palisade('export', '--since-id', '12', '--out', since);
    expect(readLines(since).map((e) => e.id)).toEqual(Array.from({ length: 18 }, (_, i) => 13 + i));
    const v = await palisade('verify', '--file', since);
    expect(v.out).toEqual(['ok: 18 events, 2 checkpoints, last signed at id 30 (export from event 13: chain checked from there)']);

    const denied = join(dir, 'denied.jsonl');
    await palisade('export', '--type', 'policy.denied', '--out', denied);
    expect(readLines(denied).map((e) => e.id)).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
    // A filtered export has gaps by construction, and verify says so.
    expect((await palisade('verify', '--file', denied)).error?.detail?.kind).toBe('deleted');
  });

  it('finds an edited, a dropped and a re-hashed line in an export', async () => {
    const lines = readFileSync(join(dir, 'all.jsonl'), 'utf8').trimEnd().split('\n');
    const edited = join(dir, 'edited.jsonl');
    writeFileSync(edited, lines.map((l, i) => (i === 4 ? l.replace('"cam-5"', '"cam-55"') : l)).join('\n'));
    expect((await palisade('verify', '--file', edited)).error?.message).toBe(`${edited}: event 5: hash mismatch, the row was edited`);
    const dropped = join(dir, 'dropped.jsonl');
    writeFileSync(dropped, lines.filter((_, i) => i !== 6).join('\n'));
    expect((await palisade('verify', '--file', dropped)).error?.detail).toMatchObject({ kind: 'deleted', eventId: 7 });
    // Re-hashed after the edit: consistent on its own, but not what the store's checkpoint signed.
    const rehashed = join(dir, 'rehashed.jsonl');
    const events = lines.map((l) => JSON.parse(l) as SecurityEvent);
    events[4] = { ...events[4]!, principal: 'cam-55' };
    for (let i = 4; i < events.length; i++) {
      const prevHash = events[i - 1]!.hash;
      events[i] = { ...events[i]!, prevHash, hash: hashEvent(prevHash, events[i]!) };
    }
    writeFileSync(rehashed, events.map((e) => JSON.stringify(e)).join('\n'));
    expect((await palisade('verify', '--file', rehashed)).error?.detail).toMatchObject({ kind: 'rewritten', eventId: 10 });
  });

  it('refuses a malformed line with its number', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${readFileSync(join(dir, 'all.jsonl'), 'utf8').split('\n')[0]}\n{"id": 2\n`);
    const r = await palisade('verify', '--file', bad);
    expect(r.error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(r.error?.message).toBe(`${bad} line 2: not JSON`);
  });
});

describe('palisade events list', () => {
  it('prints the newest events as a table, oldest first', async () => {
    const r = await palisade('list', '--limit', '3');
    expect(r.out).toHaveLength(4);
    expect(r.out[0]).toMatch(/^ID\s+TIME\s+SEVERITY\s+TYPE\s+PRINCIPAL\s+SOURCE\s+DETAIL$/);
    expect(r.out.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['28', '29', '30']);
    expect(r.out[3]).toMatch(/^30\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+warning\s+policy\.denied\s+cam-30\s+198\.51\.100\.30:40000\s+\{"action":"mqtt:publish"/);
  });

  it('filters by type', async () => {
    const r = await palisade('list', '--type', 'policy.denied', '--limit', '2');
    expect(r.out.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['27', '30']);
    expect((await palisade('list', '--type', 'nothing')).out).toEqual(['no events']);
  });

  it('refuses a bad --limit in one line', async () => {
    const r = await palisade('list', '--limit', 'ten');
    expect(r.error?.message).toBe('--limit must be a non-negative integer, got "ten"');
  });
});
