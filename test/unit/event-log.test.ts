import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { EventLog, verifyChain } from '../../src/core/events/event-log.ts';
import type { SecurityEvent } from '../../src/core/ports.ts';

describe('EventLog', () => {
  it('stores a hash chain that verifies, and detects an edited event', async () => {
    const store = await openSqliteStore(':memory:');
    const log = new EventLog(store.events);
    log.record('a', 'info', { detail: { n: 1 } });
    log.record('b', 'warning', { principal: 'dev', source: '127.0.0.1:1' });
    log.record('c', 'critical');
    await log.flush();
    const events = await store.events.list();
    expect(events.map((e) => e.type)).toEqual(['a', 'b', 'c']);
    expect(verifyChain(events)).toBeNull();
    const tampered = events.map((e) => (e.type === 'b' ? { ...e, principal: 'someone-else' } : e));
    expect(verifyChain(tampered)).toBe(events[1]!.id);
    const dropped = events.filter((e) => e.type !== 'b');
    expect(verifyChain(dropped)).toBe(events[2]!.id);
    await store.close();
  });

  it('continues the chain across instances', async () => {
    const store = await openSqliteStore(':memory:');
    const first = new EventLog(store.events);
    first.record('one', 'info');
    await first.flush();
    const second = new EventLog(store.events);
    second.record('two', 'info');
    await second.flush();
    expect(verifyChain(await store.events.list())).toBeNull();
    await store.close();
  });

  it('folds a flood into a suppressed count instead of storing every event', async () => {
    const store = await openSqliteStore(':memory:');
    const log = new EventLog(store.events, { maxPerSecond: 10 });
    for (let i = 0; i < 500; i++) log.record('flood', 'warning');
    log.record('rare', 'critical');
    await log.flush();
    const events = await store.events.list();
    expect(events.filter((e) => e.type === 'flood')).toHaveLength(10);
    // Another type in the same second is still stored in full.
    expect(events.filter((e) => e.type === 'rare')).toHaveLength(1);
    const summary = events.find((e) => e.type === 'events.suppressed');
    expect(summary?.detail).toEqual({ counts: { flood: 490 } });
    await store.close();
  });
});

describe('EventLog with several writers on one database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps one chain when two connections interleave their appends', async () => {
    const path = join(dir, 'two-connections.db');
    const a = await openSqliteStore(path);
    const b = await openSqliteStore(path);
    const logA = new EventLog(a.events);
    const logB = new EventLog(b.events);
    for (let i = 0; i < 50; i++) {
      logA.record('from.a', 'info', { detail: { i } });
      logB.record('from.b', 'info', { detail: { i } });
      // Each log's in-process promise chain would fork the chain if it kept its own last hash.
      if (i % 5 === 0) await Promise.all([logA.flush(), logB.flush()]);
    }
    await Promise.all([logA.flush(), logB.flush()]);
    const events = await a.events.list();
    expect(events).toHaveLength(100);
    expect(verifyChain(events)).toBeNull();
    await a.close();
    await b.close();
  });

  it('keeps one chain when another process appends to the same file at the same time', async () => {
    const path = join(dir, 'two-processes.db');
    const store = await openSqliteStore(path);
    const storeModule = pathToFileURL(resolve('src/store/sqlite/sqlite-store.ts')).href;
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(storeModule)});
      const store = await openSqliteStore(${JSON.stringify(path)});
      console.log('ready');
      for (let i = 0; i < 200; i++) {
        await store.events.append({ ts: Date.now(), type: 'from.child', severity: 'info', principal: null, source: null, detail: { i } });
        await new Promise((r) => setTimeout(r, 1));
      }
      await store.close();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ok) => child.stdout.once('data', () => ok()));
    const exited = new Promise<number | null>((ok) => child.once('exit', ok));
    let done = false;
    void exited.then(() => (done = true));
    let mine = 0;
    while (!done) {
      await store.events.append({ ts: Date.now(), type: 'from.parent', severity: 'info', principal: null, source: null, detail: { mine } });
      mine++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await exited).toBe(0);
    const events: SecurityEvent[] = [];
    for (let since = 0; ; ) {
      const page = await store.events.list({ sinceId: since });
      if (page.length === 0) break;
      events.push(...page);
      since = page.at(-1)!.id;
    }
    expect(events.filter((e) => e.type === 'from.child')).toHaveLength(200);
    expect(events.filter((e) => e.type === 'from.parent')).toHaveLength(mine);
    // The writers really alternated: otherwise this test would not exercise the fork.
    const switches = events.filter((e, i) => i > 0 && e.type !== events[i - 1]!.type).length;
    expect(switches).toBeGreaterThan(10);
    expect(verifyChain(events)).toBeNull();
    await store.close();
  });
});
