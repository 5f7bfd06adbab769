/**
 * Policies and devices changed while the gateway runs (issue 3 points 6 and 7): a policy put,
 * detached or a device moved by another connection to the store (as the CLI and the admin API
 * do) applies to live sessions without a restart, and live subscriptions the change no longer
 * allows are dropped at once.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerDeviceMoveCommands } from '../../src/cli/device-move.ts';
import type { Store } from '../../src/core/ports.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
/** A second connection to the same database file: writes through it are what the CLI does. */
let other: Store;
const creds: Record<string, DeviceCreds> = {};

const POLICY = {
  name: 'plant-a-rw',
  version: '2026-11',
  statements: [
    { sid: 'read', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: ['plant-a/#'] },
    { sid: 'write-own', effect: 'allow', actions: ['mqtt:publish'], resources: ['plant-a/${device.id}/#'] },
  ],
} as const;

beforeAll(async () => {
  t = await startTestGateway();
  for (const id of ['cam-1', 'cam-2', 'cam-3', 'cam-4']) creds[id] = await addDevice(t, id, 'plant-a', true);
  other = await openSqliteStore(join(t.dataDir, 'palisade.db'));
  // Stored after start: the running gateway must pick it up from the change feed.
  await other.policies.put({ ...POLICY, statements: POLICY.statements.map((s) => ({ ...s, actions: [...s.actions], resources: [...s.resources] })) });
  await other.policies.attach({ kind: 'segment', id: 'plant-a' }, 'plant-a-rw');
});
afterAll(async () => {
  await other.close();
  await t.stop();
});

async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connect(id: string, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await RawClient.tcp(t.port('mqtt'), 5);
  const ack = await c.connect({ clientId: id, username: id, password: Buffer.from(creds[id]!.password!), ...extra });
  expect(ack.reasonCode).toBe(0);
  return c;
}

let mid = 100;
async function publishQos1(c: RawClient, topic: string): Promise<number> {
  const messageId = ++mid;
  c.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId, retain: false, dup: false });
  const ack = await c.nextMatching((p) => p.cmd === 'puback' && p.messageId === messageId, 3000, 'puback');
  return (ack as { reasonCode?: number }).reasonCode ?? 0;
}

async function subscribe(c: RawClient, topic: string): Promise<number> {
  const messageId = ++mid;
  c.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos: 0 }] });
  const ack = await c.nextMatching((p) => p.cmd === 'suback' && p.messageId === messageId, 3000, 'suback');
  return (ack as { granted: number[] }).granted[0]!;
}

async function eventsOf(type: string, principal: string): Promise<Record<string, unknown>[]> {
  return (await t.gateway.store.events.list({ type })).filter((e) => e.principal === principal).map((e) => e.detail);
}

async function cli(args: string[]): Promise<string[]> {
  const program = new Command().name('palisade').exitOverride();
  registerDeviceMoveCommands(program.command('device'));
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', 'device', ...args, '--data-dir', t.dataDir]);
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

describe('live policy and device changes', () => {
  it('a policy stored and attached while the gateway runs applies without a restart', async () => {
    const c = await connect('cam-1');
    await eventually(async () => ((await subscribe(c, 'plant-a/#')) === 0 ? true : undefined), 'the new policy to apply');
    expect(await publishQos1(c, 'plant-a/cam-1/temp')).toBe(0);
    expect(await publishQos1(c, 'plant-a/cam-2/temp')).toBe(0x87);
    c.destroy();
  });

  it('moving a live device to quarantine (CLI) limits its session at once and drops its subscriptions', async () => {
    const c1 = await connect('cam-1');
    const c2 = await connect('cam-2');
    expect(await subscribe(c1, 'plant-a/#')).toBe(0);
    expect(await publishQos1(c2, 'plant-a/cam-2/t')).toBe(0);
    expect((await c1.next('publish')).topic).toBe('plant-a/cam-2/t');

    expect((await cli(['quarantine', 'cam-1'])).join('\n')).toMatch(/quarantined cam-1 \(was in plant-a\)/);
    await eventually(async () => ((await publishQos1(c1, 'plant-a/cam-1/temp')) === 0x87 ? true : undefined), 'the quarantine to apply');
    // Its subscription is gone: another device's publish no longer reaches it. (Its own
    // publishes echoed while the move was being applied are discarded first.)
    c1.received.length = 0;
    expect(await publishQos1(c2, 'plant-a/cam-2/t')).toBe(0);
    await c1.nothing('publish', 300);
    // What quarantine allows still works, on the same connection.
    expect(await publishQos1(c1, 'quarantine/cam-1/status')).toBe(0);
    expect(await subscribe(c1, 'plant-a/#')).toBe(0x87);
    expect(c1.closed).toBe(false);

    expect(await eventsOf('device.segment_changed', 'cam-1')).toContainEqual(expect.objectContaining({ from: 'plant-a', to: 'quarantine' }));
    expect(await eventsOf('policy.subscription_revoked', 'cam-1')).toContainEqual(expect.objectContaining({ filter: 'plant-a/#' }));
    const admin = await t.gateway.store.events.list({ type: 'admin.device_quarantined' });
    expect(admin.at(-1)?.principal).toMatch(/^cli:/);
    expect(admin.at(-1)?.source).toMatch(/^cli@/);
    expect(admin.at(-1)?.detail).toEqual({ device: 'cam-1', from: 'plant-a', to: 'quarantine' });

    // Release restores the segment it came from, and with it the grants.
    expect((await cli(['release', 'cam-1'])).join('\n')).toMatch(/released cam-1: quarantine -> plant-a/);
    await eventually(async () => ((await publishQos1(c1, 'plant-a/cam-1/temp')) === 0 ? true : undefined), 'the release to apply');
    expect((await t.gateway.store.devices.get('cam-1'))?.attrs).toEqual({});
    c1.destroy();
    c2.destroy();
  });

  it('detaching a policy drops the subscriptions it granted, live and offline', async () => {
    const live = await connect('cam-3');
    expect(await subscribe(live, 'plant-a/#')).toBe(0);
    const offline = await connect('cam-4', { clean: false, properties: { sessionExpiryInterval: 600 } });
    expect(await subscribe(offline, '$share/g/plant-a/+/t')).toBe(0);
    offline.send({ cmd: 'disconnect' });
    await offline.waitClosed();
    await eventually(() => (t.gateway.broker.session('cam-4')?.sink === null ? true : undefined), 'cam-4 offline');

    expect(await other.policies.detach({ kind: 'segment', id: 'plant-a' }, 'plant-a-rw')).toBe(true);
    await eventually(() => (t.gateway.broker.session('cam-3')?.subscriptions.size === 0 ? true : undefined), 'the live subscription to go');
    await eventually(() => (t.gateway.broker.session('cam-4')?.subscriptions.size === 0 ? true : undefined), 'the offline subscription to go');
    expect(await eventsOf('policy.subscription_revoked', 'cam-4')).toContainEqual(expect.objectContaining({ filter: '$share/g/plant-a/+/t', offline: true }));
    expect(live.closed).toBe(false);
    await other.policies.attach({ kind: 'segment', id: 'plant-a' }, 'plant-a-rw');
    live.destroy();
  });

  it('disabling or deleting a device closes its live sessions', async () => {
    const c = await connect('cam-2');
    await other.devices.update('cam-2', { status: 'disabled' });
    await c.waitClosed(5000);
    expect(await eventsOf('device.session_closed', 'cam-2')).toContainEqual(expect.objectContaining({ cause: 'disabled' }));
  });
});
