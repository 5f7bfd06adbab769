/**
 * Each anomaly mitigation (issue 5, point 6) on a real gateway: windows are an hour long and
 * closed by the test, so each step is decided by what the devices did, not by the clock.
 * quarantine moves the device and its live MQTT session loses its old rights; revoke puts the
 * device's certificate on the served CRL; alert writes events, a `$SYS/palisade/anomaly/<id>`
 * message and a webhook POST (here to a 127.0.0.1 server that answers 500: a failure event).
 * ban goes through the gateway's ban list. The webhook's timeout and bound, and ban without a
 * ban list, run against the Mitigator alone.
 */
import { get } from 'node:https';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSerial } from '../../src/core/fleet/register-device.ts';
import type { SecurityEventInput, Store } from '../../src/core/ports.ts';
import * as x509 from '../../src/core/pki/x509.ts';
import type { BanInput } from '../../src/shield/bans/types.ts';
import { Mitigator } from '../../src/shield/anomaly/mitigations.ts';
import type { AnomalyNotice, Behaviour } from '../../src/shield/anomaly/types.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

let t: TestGateway;
let hook: Server;
const posts: { path: string; body: Record<string, unknown> }[] = [];
const seen: SecurityEventInput[] = [];
const creds: Record<string, DeviceCreds> = {};

const failures = (segments: string[], mitigations: Behaviour['mitigations']): Behaviour => ({ name: `denials-${segments[0]!}`, metric: 'authorizationFailures', segments, threshold: { op: '>=', value: 3 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations });

beforeAll(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  t = await startTestGateway({
    shield: { anomaly: { windowSeconds: 3600, webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` }, behaviours: [failures(['quar'], ['alert', 'quarantine']), failures(['rev'], ['alert', 'revoke']), { ...failures(['bann'], ['ban']), ban: { kinds: ['username'], seconds: 600 } }, failures(['loud'], ['alert']), { name: 'receives', metric: 'messagesReceived', segments: ['recv'], threshold: { op: '>=', value: 3 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] }] } },
    policy: { segments: { ops: { publish: [], subscribe: ['$SYS/palisade/anomaly/#'] } } },
  });
  t.gateway.events.onEvent((e) => seen.push(e));
  creds.q1 = await addDevice(t, 'q1', 'quar', true);
  creds.r1 = await addDevice(t, 'r1', 'rev', true);
  creds.ops = await addDevice(t, 'ops', 'ops', true);
  creds.b1 = await addDevice(t, 'b1', 'bann', true);
  creds.loud1 = await addDevice(t, 'loud1', 'loud', true);
  creds.loud2 = await addDevice(t, 'loud2', 'loud', true);
  creds.rx1 = await addDevice(t, 'rx1', 'recv', true);
});
afterAll(async () => {
  await t.stop();
  await new Promise((r) => hook.close(r));
});

async function connect(id: string): Promise<RawClient> {
  const c = await RawClient.tcp(t.port('mqtt'), 5);
  expect((await c.connect({ clientId: id, username: id, password: Buffer.from(creds[id]!.password!) })).reasonCode).toBe(0);
  return c;
}

let mid = 1;
async function publish(c: RawClient, topic: string): Promise<number> {
  const messageId = ++mid;
  c.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId, retain: false, dup: false });
  const ack = await c.nextMatching((p) => p.cmd === 'puback' && p.messageId === messageId, 3000, 'puback');
  return (ack as { reasonCode?: number }).reasonCode ?? 0;
}

async function eventually<T>(fn: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function deny(c: RawClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect(await publish(c, `elsewhere/${i}`)).toBe(0x87);
}

describe('anomaly mitigations on a real gateway', () => {
  it('quarantine: the device moves to the quarantine segment and its live session loses its old rights; alert reaches $SYS and the webhook', async () => {
    const ops = await connect('ops');
    ops.send({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: '$SYS/palisade/anomaly/#', qos: 0 }] });
    expect((await ops.nextMatching((p) => p.cmd === 'suback', 3000, 'suback')) as { granted: number[] }).toMatchObject({ granted: [0] });
    const q1 = await connect('q1');
    expect(await publish(q1, 'quar/q1/telemetry')).toBe(0);
    await deny(q1, 2);
    t.gateway.anomaly.detector.closeWindow();
    expect(seen.filter((e) => e.type === 'anomaly.alarm')).toEqual([]); // 2 < 3: no alarm
    await deny(q1, 3);
    t.gateway.anomaly.detector.closeWindow();
    const alarm = seen.find((e) => e.type === 'anomaly.alarm')!;
    expect(alarm).toMatchObject({ principal: 'shield:anomaly', detail: { device: 'q1', segment: 'quar', behaviour: 'denials-quar', metric: 'authorizationFailures', value: 3, threshold: 3, mitigations: ['alert', 'quarantine'] } });

    const sys = await ops.nextMatching((p) => p.cmd === 'publish', 3000, '$SYS anomaly');
    expect((sys as { topic: string }).topic).toBe('$SYS/palisade/anomaly/q1');
    expect(JSON.parse((sys as { payload: Buffer }).payload.toString())).toMatchObject({ state: 'alarm', device: 'q1', behaviour: 'denials-quar' });

    await t.gateway.anomaly.mitigator.settled();
    expect(seen.find((e) => e.type === 'anomaly.quarantined')).toMatchObject({ principal: 'shield:anomaly', detail: { device: 'q1', from: 'quar' } });
    const device = (await t.gateway.store.devices.get('q1'))!;
    expect(device.segment).toBe('quarantine');
    expect(device.attrs['palisade.quarantinedFrom']).toBe('quar');
    // The same live session: its own tree is refused now, the quarantine status topic allowed.
    await eventually(() => seen.find((e) => e.type === 'device.segment_changed' && e.principal === 'q1'), 'segment change on the live session');
    expect(await publish(q1, 'quar/q1/telemetry')).toBe(0x87);
    expect(await publish(q1, 'quarantine/q1/status')).toBe(0);

    // The webhook got the alarm as JSON; it answered 500, which is an event, not a stall.
    expect(posts).toEqual([{ path: '/hook', body: expect.objectContaining({ type: 'anomaly.alarm', device: 'q1', behaviour: 'denials-quar' }) as unknown }]);
    expect(seen.find((e) => e.type === 'anomaly.webhook_failed')).toMatchObject({ principal: 'shield:anomaly', detail: { reason: 'status', status: 500 } });

    // A normal window clears the alarm (datapointsToClear 1): event and $SYS again. The
    // behaviour was for segment quar, which q1 has left, so the clear says why.
    t.gateway.anomaly.detector.closeWindow();
    expect(seen.find((e) => e.type === 'anomaly.cleared')).toMatchObject({ detail: { device: 'q1', cause: 'segment' } });
    const cleared = await ops.nextMatching((p) => p.cmd === 'publish', 3000, '$SYS clear');
    expect(JSON.parse((cleared as { payload: Buffer }).payload.toString())).toMatchObject({ state: 'cleared', device: 'q1' });
    q1.end();
    ops.end();
  });

  it('revoke: every valid certificate of the device is revoked (keyCompromise) and on the CRL the gateway serves', async () => {
    const r1 = await connect('r1');
    await deny(r1, 3);
    t.gateway.anomaly.detector.closeWindow();
    await t.gateway.anomaly.mitigator.settled();
    const serial = normalizeSerial(new x509.X509Certificate(creds.r1!.cert).serialNumber);
    expect(seen.find((e) => e.type === 'anomaly.revoked')).toMatchObject({ principal: 'shield:anomaly', detail: { device: 'r1', serials: [serial] } });
    const record = (await t.gateway.store.certificates.get(serial))!;
    expect(record.revokedAt).not.toBeNull();
    expect(record.revocationReason).toBe('keyCompromise');
    const der = await new Promise<Buffer>((resolve, reject) => {
      get({ host: '127.0.0.1', port: t.port('https'), path: '/pki/crl', ca: creds.r1!.ca, servername: 'localhost' }, (resp) => {
        const chunks: Buffer[] = [];
        resp.on('data', (c: Buffer) => chunks.push(c));
        resp.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject);
    });
    expect(new x509.X509Crl(der).entries.map((e) => normalizeSerial(e.serialNumber))).toContain(serial);
    // The password session is not certificate-bound, so it stays; quarantine is the mitigation for that.
    r1.end();
  });

  it('ban: the gateway\'s ban list takes the device\'s username; its open connection is closed and it cannot come back', async () => {
    const b1 = await connect('b1');
    await deny(b1, 3);
    t.gateway.anomaly.detector.closeWindow();
    await t.gateway.anomaly.mitigator.settled();
    expect(seen.find((e) => e.type === 'anomaly.banned')).toMatchObject({ principal: 'shield:anomaly', detail: { device: 'b1', kind: 'username', value: 'b1', seconds: 600 } });
    const bans = (await t.gateway.store.bans.list(Date.now())).filter((b) => b.value === 'b1');
    expect(bans).toMatchObject([{ kind: 'username', by: 'anomaly' }]);
    expect(bans[0]!.expiresAt! - Date.now()).toBeGreaterThan(590_000);
    await b1.waitClosed();
    const again = await RawClient.tcp(t.port('mqtt'), 5);
    expect((await again.connect({ clientId: 'b1', username: 'b1', password: Buffer.from(creds.b1!.password!) })).reasonCode).not.toBe(0);
    again.destroy();
  });
});

describe('inputs', () => {
  it('deliveries from the broker count as the device\'s messages received', async () => {
    const rx1 = await connect('rx1');
    rx1.send({ cmd: 'subscribe', messageId: 77, subscriptions: [{ topic: 'recv/rx1/#', qos: 1 }] });
    await rx1.nextMatching((p) => p.cmd === 'suback', 3000, 'suback');
    for (let i = 0; i < 3; i++) expect(await publish(rx1, `recv/rx1/t${i}`)).toBe(0);
    for (let i = 0; i < 3; i++) await rx1.nextMatching((p) => p.cmd === 'publish', 3000, 'delivery');
    t.gateway.anomaly.detector.closeWindow();
    expect(seen.find((e) => e.type === 'anomaly.alarm' && e.detail.device === 'rx1')).toMatchObject({ detail: { behaviour: 'receives', metric: 'messagesReceived', value: 3 } });
    rx1.end();
  });

  it('counts every refusal, also while another device\'s flood exceeds the log\'s per-type budget', async () => {
    const loud1 = await connect('loud1');
    const loud2 = await connect('loud2');
    let id = 1000;
    for (let i = 0; i < 300; i++) loud1.send({ cmd: 'publish', topic: `elsewhere/${i}`, payload: Buffer.from('x'), qos: 0, retain: false, dup: false, messageId: ++id });
    expect(await publish(loud1, 'elsewhere/last')).toBe(0x87); // in order: the 300 before it are handled
    await deny(loud2, 3);
    t.gateway.anomaly.detector.closeWindow();
    const alarms = seen.filter((e) => e.type === 'anomaly.alarm' && String(e.detail.device).startsWith('loud')).map((e) => [e.detail.device, e.detail.value]);
    expect(alarms).toEqual([['loud1', 301], ['loud2', 3]]);
    // The log itself folded the excess into a count.
    await t.gateway.events.flush();
    expect((await t.gateway.store.events.list({ type: 'events.suppressed' })).length).toBeGreaterThan(0);
    loud1.end();
    loud2.end();
  });
});

describe('Mitigator alone', () => {
  const behaviour = (mitigations: Behaviour['mitigations'], ban?: Behaviour['ban']): Behaviour => ({ name: 'b', metric: 'messagesSent', threshold: { op: '>', value: 1 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations, ban });
  const notice = (b: Behaviour): AnomalyNotice => ({ kind: 'alarm', deviceId: 'dev-1', segment: 'plant', behaviour: b, metric: b.metric, value: 50, threshold: 1, window: 7, windowEnd: 0, address: '10.1.2.3' });
  const store = { devices: {} as Store['devices'], certificates: { listByDevice: () => Promise.resolve([]) } as unknown as Store['certificates'] };

  it('ban: through the ban list, by the kinds the behaviour names, each an event; without a ban list, an event says so', async () => {
    const events: { type: string; detail: Record<string, unknown> }[] = [];
    const added: BanInput[] = [];
    const bans = { add: (b: BanInput) => Promise.resolve({ ...b, id: added.push(b), createdAt: 0 }) };
    const m = new Mitigator({ events: { record: (type, _s, ctx) => events.push({ type, detail: ctx?.detail ?? {} }) }, store, publish: null, webhook: null, bans });
    const before = Date.now();
    m.notify(notice(behaviour(['ban'], { kinds: ['username', 'address'], seconds: 600 })));
    await m.settled();
    expect(added.map((b) => [b.kind, b.value, b.by])).toEqual([['username', 'dev-1', 'anomaly'], ['address', '10.1.2.3', 'anomaly']]);
    expect(added[0]!.expiresAt! - before).toBeGreaterThanOrEqual(600_000);
    expect(events.filter((e) => e.type === 'anomaly.banned').map((e) => e.detail.kind)).toEqual(['username', 'address']);
    // Not 'alert': no $SYS, no webhook, but the alarm event is still written.
    expect(events[0]!.type).toBe('anomaly.alarm');

    const none = new Mitigator({ events: { record: (type, _s, ctx) => events.push({ type, detail: ctx?.detail ?? {} }) }, store, publish: null, webhook: null, bans: null });
    none.notify(notice(behaviour(['ban'])));
    await none.settled();
    expect(events.at(-1)).toMatchObject({ type: 'anomaly.mitigation_unavailable', detail: { mitigation: 'ban' } });
  });

  it('webhook: a hung endpoint times out into an event, and requests beyond maxInFlight are dropped, never queued', async () => {
    const hung = createServer(() => undefined);
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const events: { type: string; detail: Record<string, unknown> }[] = [];
    const m = new Mitigator({ events: { record: (type, _s, ctx) => events.push({ type, detail: ctx?.detail ?? {} }) }, store, publish: null, webhook: { url: `http://127.0.0.1:${(hung.address() as AddressInfo).port}/`, timeoutMs: 200, maxInFlight: 2 }, bans: null });
    const started = Date.now();
    for (let i = 0; i < 3; i++) m.notify(notice(behaviour(['alert'])));
    // notify() returned at once: the pipeline never waits on the webhook.
    expect(Date.now() - started).toBeLessThan(100);
    await m.settled();
    const failed = events.filter((e) => e.type === 'anomaly.webhook_failed').map((e) => e.detail);
    expect(failed).toEqual([{ reason: 'dropped', inFlight: 2 }, { reason: 'error', error: 'timeout' }, { reason: 'error', error: 'timeout' }]);
    hung.closeAllConnections();
    await new Promise((r) => hung.close(r));
  });
});
