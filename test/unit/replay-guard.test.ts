/**
 * ReplayGuard (issue 5, point 5) over a real SQLite file: protected and unprotected topics,
 * counters in MQTT 5 user properties and in the envelope, nonces, per-segment topics, and the
 * window surviving a crash (skip ahead by K) and a clean stop (exact), with the writes counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage, InspectionVerdict } from '../../src/core/messaging/inspection.ts';
import type { ReplayStateRepo, Store } from '../../src/core/ports.ts';
import { configSchema } from '../../src/config/schema.ts';
import { ReplayGuard, type ReplaySettings } from '../../src/shield/replay/guard.ts';
import { openReplayProtection } from '../../src/shield/replay/from-config.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-replay-'));
let n = 0;
const freshPath = (): string => join(dir, `replay-${++n}.db`);
const open: Store[] = [];

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SETTINGS: ReplaySettings = { topics: ['sensors/#', 'cmd/+/ack'], window: 64, maxSkewSeconds: 30, persistEvery: 32, maxNoncesPerDevice: 1024, segments: {} };

async function store(path = freshPath()): Promise<Store> {
  const s = await openSqliteStore(path);
  open.push(s);
  return s;
}

/** Counts the writes the guard makes: the point is persistence without a write per message. */
function counting(repo: ReplayStateRepo): { repo: ReplayStateRepo; writes: () => number } {
  let writes = 0;
  return {
    repo: { claim: (s, now) => repo.claim(s, now), get: (d, s) => repo.get(d, s), deleteDevice: (d) => repo.deleteDevice(d), save: (r) => ((writes += 1), repo.save(r)) },
    writes: () => writes,
  };
}

function guard(repo: ReplayStateRepo, settings: Partial<ReplaySettings> = {}, now?: () => number): Promise<ReplayGuard> {
  return ReplayGuard.open({ repo, settings: { ...SETTINGS, ...settings }, onPersistError: (err) => { throw err; }, now });
}

function msg(topic: string, opts: { device?: string; segment?: string; props?: Record<string, string | string[]>; payload?: Buffer | string; protocol?: InboundMessage['protocol'] } = {}): InboundMessage {
  return {
    principal: { kind: 'device', id: opts.device ?? 'dev-1', segment: opts.segment ?? 'default', authMethod: 'certificate', attrs: {}, certSerial: null, certCommonName: null },
    protocol: opts.protocol ?? 'mqtt',
    topic,
    payload: Buffer.isBuffer(opts.payload) ? opts.payload : Buffer.from(opts.payload ?? '{"t":21.5}'),
    userProperties: opts.props ?? {},
    source: '127.0.0.1:5000',
    deferrable: false,
  };
}

const ctr = (c: number, device?: string): InboundMessage => msg('sensors/temp', { device, props: { 'palisade-ctr': String(c) } });
const detail = (v: InspectionVerdict): string => (v.ok ? 'accepted' : v.reason === 'replayed' ? v.detail : v.reason);

describe('ReplayGuard', () => {
  it('passes unprotected topics without a stamp and refuses protected ones without', async () => {
    const g = await guard((await store()).replay);
    expect(g.enabled).toBe(true);
    expect(g.check(msg('status/online'))).toEqual({ ok: true });
    expect(g.check(msg('cmd/x/ack/extra'))).toEqual({ ok: true });
    expect(g.check(msg('sensors/temp'))).toEqual({ ok: false, reason: 'replayed', detail: 'missing replay protection' });
    expect(detail(g.check(msg('cmd/7/ack')))).toBe('missing replay protection');
    // A payload that is JSON but no envelope is "missing", one that claims to be an envelope and is wrong is malformed.
    expect(detail(g.check(msg('sensors/temp', { payload: '{"palisade":{"ctr":0},"payload":1}' })))).toBe('malformed counter');
    expect(detail(g.check(msg('sensors/temp', { props: { 'palisade-ctr': ['1', '2'] } })))).toBe('repeated replay property');
    const off = await guard((await store()).replay, { topics: [] });
    expect(off.enabled).toBe(false);
    expect(off.check(msg('sensors/temp'))).toEqual({ ok: true });
  });

  it('MQTT 5 counters: in order, reordered inside the window, duplicate and stale refused, per device', async () => {
    const g = await guard((await store()).replay);
    for (const c of [1, 2, 5, 4]) expect(g.check(ctr(c))).toEqual({ ok: true });
    expect(detail(g.check(ctr(5)))).toBe('duplicate counter 5');
    expect(g.check(ctr(3))).toEqual({ ok: true });
    expect(g.check(ctr(200))).toEqual({ ok: true });
    expect(detail(g.check(ctr(136)))).toBe('counter 136 is older than the window (highest 200, window 64)');
    expect(g.check(ctr(137))).toEqual({ ok: true });
    // Another device has its own window.
    expect(g.check(ctr(1, 'dev-2'))).toEqual({ ok: true });
  });

  it('unwraps the envelope (3.1.1, HTTP, CoAP): routes the original JSON value or bytes', async () => {
    const g = await guard((await store()).replay);
    const v = g.check(msg('sensors/temp', { protocol: 'http', payload: '{"palisade":{"ctr":1},"payload":{"t":21.5,"u":"°C"}}' }));
    expect(v).toEqual({ ok: true, payload: Buffer.from('{"t":21.5,"u":"°C"}') });
    const bytes = Buffer.from([0, 1, 254, 255]);
    const b = g.check(msg('sensors/temp', { protocol: 'coap', payload: JSON.stringify({ palisade: { ctr: 2 }, payloadB64: bytes.toString('base64') }) }));
    expect(b).toEqual({ ok: true, payload: bytes });
    expect(detail(g.check(msg('sensors/temp', { payload: '{"palisade":{"ctr":2},"payload":1}' })))).toBe('duplicate counter 2');
    expect(detail(g.check(msg('sensors/temp', { payload: '{"palisade":{"ctr":3},"payload":1,"payloadB64":""}' })))).toBe('envelope needs exactly one of payload and payloadB64');
    expect(detail(g.check(msg('sensors/temp', { payload: '{"palisade":{"ctr":3},"payload":1,"extra":true}' })))).toBe('unexpected envelope member extra');
  });

  it('nonce + timestamp: skew, duplicate, and nothing stamped before the gateway started', async () => {
    let now = 1_767_225_600_000;
    const g = await guard((await store()).replay, {}, () => now);
    now += 5000;
    const nonce = (x: string, ts: number): InboundMessage => msg('sensors/temp', { props: { 'palisade-nonce': x.padEnd(24, 'A'), 'palisade-ts': String(ts) } });
    expect(g.check(nonce('n1', now - 1000))).toEqual({ ok: true });
    expect(detail(g.check(nonce('n1', now - 1000)))).toBe('duplicate nonce');
    expect(detail(g.check(nonce('n2', now - 31_000)))).toMatch(/outside ±30 s/);
    expect(detail(g.check(nonce('n3', now - 5001)))).toMatch(/at or before the replay horizon/);
    expect(detail(g.check(msg('sensors/temp', { props: { 'palisade-nonce': 'short', 'palisade-ts': String(now) } })))).toMatch(/malformed nonce/);
    expect(detail(g.check(msg('sensors/temp', { props: { 'palisade-nonce': 'A'.repeat(24) } })))).toBe('nonce without a valid timestamp');
  });

  it('per-segment topics replace the global list for that segment', async () => {
    const g = await guard((await store()).replay, { segments: { plant: { topics: ['plant/#'] } } });
    expect(g.check(msg('sensors/temp', { segment: 'plant' }))).toEqual({ ok: true });
    expect(detail(g.check(msg('plant/valve', { segment: 'plant' })))).toBe('missing replay protection');
    expect(detail(g.check(msg('sensors/temp', { segment: 'office' })))).toBe('missing replay protection');
  });

  it('survives a crash: 1..100 and persisted..persisted+K-1 are refused afterwards, with 4 writes for 100 messages', async () => {
    const path = freshPath();
    const s1 = await store(path);
    const counted = counting(s1.replay);
    const g1 = await guard(counted.repo);
    for (let c = 1; c <= 100; c++) expect(g1.check(ctr(c))).toEqual({ ok: true });
    // Written at the first counter and then every K = 32: 1, 33, 65, 97.
    expect(counted.writes()).toBe(4);
    const persisted = (await s1.replay.get('dev-1', 'up'))?.highest;
    expect(persisted).toBe(97);
    // "Crash": no flush; a new connection and guard on the same file.
    const g2 = await guard((await store(path)).replay);
    for (let c = 1; c <= 100; c++) expect(g2.check(ctr(c)).ok, `replayed ${c}`).toBe(false);
    for (let c = 97; c <= 97 + 32 - 1; c++) expect(g2.check(ctr(c)).ok, `skipped ${c}`).toBe(false);
    expect(g2.check(ctr(97 + 32))).toEqual({ ok: true });
  });

  it('a clean stop (flush) keeps the exact highest: nothing lost, nothing replayable', async () => {
    const path = freshPath();
    const s1 = await store(path);
    const g1 = await guard(s1.replay);
    for (let c = 1; c <= 40; c++) g1.check(ctr(c));
    g1.check(ctr(3, 'dev-2'));
    await g1.flush();
    expect(await s1.replay.get('dev-1', 'up')).toMatchObject({ highest: 40, clean: true });
    const s2 = await store(path);
    const g2 = await guard(s2.replay);
    // Loading claims the state: a crash from now on must skip ahead again.
    expect((await s2.replay.get('dev-1', 'up'))?.clean).toBe(false);
    expect(detail(g2.check(ctr(40)))).toBe('duplicate counter 40');
    expect(g2.check(ctr(41))).toEqual({ ok: true });
    expect(g2.check(ctr(3, 'dev-2')).ok).toBe(false);
    expect(g2.check(ctr(4, 'dev-2'))).toEqual({ ok: true });
  });

  it('a counter far ahead is written before it is accepted', async () => {
    const path = freshPath();
    const g1 = await guard((await store(path)).replay);
    g1.check(ctr(1));
    g1.check(ctr(10_000));
    const g2 = await guard((await store(path)).replay);
    expect(g2.check(ctr(10_000)).ok).toBe(false);
  });
});

describe('shield.replay config and wiring', () => {
  it('defaults, filter validation, and openReplayProtection from the parsed config', async () => {
    const defaults = configSchema.parse({}).shield.replay;
    expect(defaults).toEqual({ topics: [], window: 64, maxSkewSeconds: 30, persistEvery: 32, maxNoncesPerDevice: 1024, stampCommands: true, segments: {} });
    expect(() => configSchema.parse({ shield: { replay: { topics: ['a/#/b'] } } })).toThrow(/topic filter/);
    expect(() => configSchema.parse({ shield: { replay: { topics: ['a/b+'] } } })).toThrow(/topic filter/);
    expect(() => configSchema.parse({ shield: { replay: { windw: 3 } } })).toThrow();

    const s = await store();
    const off = await openReplayProtection(defaults, s.replay, { record: () => undefined });
    expect(off.step).toBeNull();
    expect(off.commandCounter?.next('d')).toBe(1);

    const config = configSchema.parse({ shield: { replay: { topics: ['sensors/#'], stampCommands: false } } }).shield.replay;
    const on = await openReplayProtection(config, s.replay, { record: () => undefined });
    expect(on.commandCounter).toBeNull();
    expect(on.step?.(msg('sensors/a'))).toEqual({ ok: false, reason: 'replayed', detail: 'missing replay protection' });
    expect(on.step?.(ctr(5))).toEqual({ ok: true });
    await on.flush();
    expect(await s.replay.get('dev-1', 'up')).toMatchObject({ highest: 5, clean: true });
  });
});
