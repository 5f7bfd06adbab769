import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { EventLog, verifyChain } from '../../src/core/events/event-log.ts';

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
