/**
 * The device kit (issue 5, point 5) against the gateway: what ReplayStamper produces passes the
 * ReplayGuard (envelope round trip, MQTT 5 properties) and its replay does not; the stamper never
 * reuses a counter across restarts; commands stamped by CommandService with OutboundCounters
 * (a real SQLite file) pass CommandVerifier, their replay does not, and a restarted gateway
 * never reuses a command counter. The kit imports no gateway code.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandService, type CommandRequest } from '../../src/core/commands/service.ts';
import { commandOnWire } from '../../src/core/commands/wire.ts';
import type { InboundMessage } from '../../src/core/messaging/inspection.ts';
import type { Store } from '../../src/core/ports.ts';
import { OutboundCounters } from '../../src/core/replay/outbound.ts';
import { CommandVerifier, ReplayStamper, nonceStamp, stampProperties } from '../../src/device-kit/index.ts';
import { ReplayGuard } from '../../src/shield/replay/guard.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-devkit-'));
let n = 0;
const freshPath = (): string => join(dir, `kit-${++n}.db`);
const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function store(path = freshPath()): Promise<Store> {
  const s = await openSqliteStore(path);
  open.push(s);
  return s;
}

const fail = (err: unknown): never => {
  throw err;
};

function inbound(payload: Buffer, props: Record<string, string> = {}, protocol: InboundMessage['protocol'] = 'mqtt'): InboundMessage {
  return { principal: { kind: 'device', id: 'kit-1', segment: 'default', authMethod: 'password', attrs: {}, certSerial: null, certCommonName: null }, protocol, topic: 'sensors/kit-1/temp', payload, userProperties: props, source: '127.0.0.1:1', deferrable: false };
}

async function guard(): Promise<ReplayGuard> {
  return ReplayGuard.open({ repo: (await store()).replay, settings: { topics: ['sensors/+/temp'], window: 64, maxSkewSeconds: 30, persistEvery: 32, maxNoncesPerDevice: 1024, segments: {} }, onPersistError: fail });
}

describe('device kit → gateway', () => {
  it('envelope round trip: JSON and bytes come out as they went in; the replay is refused', async () => {
    const g = await guard();
    const stamper = new ReplayStamper({ stored: null, save: () => undefined });
    const reading = { t: 21.5, tags: ['a', 'ü'], ok: true };
    const env = stamper.envelope(reading);
    expect(g.check(inbound(env, {}, 'http'))).toEqual({ ok: true, payload: Buffer.from(JSON.stringify(reading)) });
    expect(g.check(inbound(env, {}, 'http'))).toMatchObject({ ok: false, reason: 'replayed' });
    const bytes = Buffer.from([0xde, 0xad, 0, 0xbe, 0xef]);
    expect(g.check(inbound(stamper.envelope(bytes), {}, 'coap'))).toEqual({ ok: true, payload: bytes });
    // MQTT 5: properties, payload untouched (no `payload` in the verdict).
    const props = stamper.properties();
    expect(props).toEqual({ 'palisade-ctr': '3' });
    expect(g.check(inbound(Buffer.from('raw'), props))).toEqual({ ok: true });
    expect(g.check(inbound(Buffer.from('raw'), props))).toMatchObject({ ok: false, detail: 'duplicate counter 3' });
    // Nonce stamps from the kit.
    const nonceProps = stampProperties(nonceStamp());
    expect(g.check(inbound(Buffer.from('x'), nonceProps))).toEqual({ ok: true });
    expect(g.check(inbound(Buffer.from('x'), nonceProps))).toMatchObject({ ok: false, detail: 'duplicate nonce' });
  });

  it('the stamper saves a reservation every K and never reuses a counter after a restart', () => {
    let stored: number | null = null;
    const saves: number[] = [];
    const save = (v: number): void => {
      stored = v;
      saves.push(v);
    };
    const a = new ReplayStamper({ stored, save, persistEvery: 32 });
    const used = Array.from({ length: 40 }, () => a.nextCounter());
    expect(used).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(saves).toEqual([32, 64]);
    // Restart (crash or not): continues after the reservation.
    const b = new ReplayStamper({ stored, save, persistEvery: 32 });
    expect(b.nextCounter()).toBe(65);
  });
});

describe('commands gateway → device', () => {
  const settings = { defaultTimeoutMs: 1000, maxTimeoutMs: 1000 };
  const actor = { principal: 'op', source: null };

  /** A transport that hands the command, as it goes on the wire, to the device and answers at once. */
  function deviceTransport(service: () => CommandService, v5: boolean, wire: Array<{ payload: Buffer; props: Record<string, string> }>) {
    return {
      deliver(cmd: CommandRequest): boolean {
        const w = commandOnWire(cmd, v5);
        wire.push({ payload: w.payload, props: Object.fromEntries(w.userProperties) });
        queueMicrotask(() => service().reply(cmd.deviceId, cmd.correlationId, Buffer.from('done')));
        return true;
      },
    };
  }

  for (const v5 of [true, false]) {
    it(`stamps a per-device counter the device verifies (${v5 ? 'MQTT 5 property' : '3.1.1 envelope'}); a replay is refused`, async () => {
      const s = await store();
      const counter = await OutboundCounters.open({ repo: s.replay, persistEvery: 32, onError: fail });
      const wire: Array<{ payload: Buffer; props: Record<string, string> }> = [];
      const svc: CommandService = new CommandService({ events: { record: () => undefined }, settings, counter });
      svc.setTransport(deviceTransport(() => svc, v5, wire));
      await svc.send(actor, 'dev-a', 'reboot', Buffer.from([1, 2, 3]));
      await svc.send(actor, 'dev-a', 'reboot', Buffer.from([4]));
      await svc.send(actor, 'dev-b', 'reboot', Buffer.from([5]));
      const verifier = new CommandVerifier();
      const first = verifier.verify(wire[0]!.props, wire[0]!.payload);
      expect(first).toEqual({ ok: true, counter: 1, payload: Buffer.from([1, 2, 3]) });
      expect(verifier.verify(wire[1]!.props, wire[1]!.payload)).toMatchObject({ ok: true, counter: 2, payload: Buffer.from([4]) });
      expect(verifier.verify(wire[0]!.props, wire[0]!.payload)).toEqual({ ok: false, reason: 'duplicate command counter 1' });
      // Each device has its own counter.
      expect(new CommandVerifier().verify(wire[2]!.props, wire[2]!.payload)).toMatchObject({ ok: true, counter: 1 });
      // An unstamped command is refused by the device.
      expect(verifier.verify({}, Buffer.from([9]))).toEqual({ ok: false, reason: 'command without a replay counter' });
    });
  }

  it('a restarted gateway never reuses a command counter (crash: skip ahead; clean stop: exact)', async () => {
    const path = freshPath();
    const a = await OutboundCounters.open({ repo: (await store(path)).replay, persistEvery: 32, onError: fail });
    const issued = Array.from({ length: 50 }, () => a.next('dev-a'));
    expect(issued.at(-1)).toBe(50);
    // Crash: no flush.
    const b = await OutboundCounters.open({ repo: (await store(path)).replay, persistEvery: 32, onError: fail });
    const afterCrash = b.next('dev-a');
    expect(afterCrash).toBeGreaterThan(50);
    expect(afterCrash).toBe(33 + 32);
    await b.flush();
    const c = await OutboundCounters.open({ repo: (await store(path)).replay, persistEvery: 32, onError: fail });
    expect(c.next('dev-a')).toBe(afterCrash + 1);
    expect(c.next('dev-new')).toBe(1);
  });

  it('the verifier persists through its save callback and refuses old commands after a device restart', () => {
    let stored: number | null = null;
    const v1 = new CommandVerifier({ save: (h) => (stored = h) });
    const cmd = (c: number) => commandOnWire({ deviceId: 'd', name: 'x', payload: Buffer.from('p'), correlationId: 'c', counter: c }, false).payload;
    expect(v1.verify({}, cmd(7)).ok).toBe(true);
    expect(stored).toBe(7);
    const v2 = new CommandVerifier({ stored });
    expect(v2.verify({}, cmd(7))).toEqual({ ok: false, reason: 'duplicate command counter 7' });
    expect(v2.verify({}, cmd(8)).ok).toBe(true);
  });
});

describe('device kit', () => {
  it('imports nothing from the gateway (only its own files and node: built-ins)', () => {
    const kit = join(import.meta.dirname, '../../src/device-kit');
    const files = readdirSync(kit).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const specs = [...readFileSync(join(kit, f), 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
      for (const s of specs) expect(s.startsWith('./') || s.startsWith('node:'), `${f} imports ${s}`).toBe(true);
    }
  });
});
