/**
 * The Server-Sent Events stream of the device API (device-sse.ts) on a real HTTP server, a real
 * Broker on SQLite and the real policy engine: heartbeats at the configured interval, message
 * events with increasing ids, an `end` event when the grant is withdrawn, and the broker session
 * gone when the client disconnects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events/event-log.ts';
import type { DevicePrincipal } from '../../src/core/identity/principal.ts';
import { Broker } from '../../src/core/messaging/broker.ts';
import { DeviceMessaging } from '../../src/core/messaging/device-messaging.ts';
import { ZeroTrustPolicyEngine } from '../../src/core/policy/index.ts';
import { serveEventStream } from '../../src/protocols/http/device-sse.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

let dir: string;
let store: SqliteStore;
let broker: Broker;
let engine: ZeroTrustPolicyEngine;
let dm: DeviceMessaging;
let app: FastifyInstance;
let port: number;
const slow: string[] = [];

const principal: DevicePrincipal = { kind: 'device', id: 'd1', segment: 'plant', authMethod: 'certificate', attrs: {}, certSerial: 'aa', certCommonName: null };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-sse-'));
  store = await openSqliteStore(join(dir, 'palisade.db'));
  broker = new Broker({ store, maxQueuedMessages: 100, maxInflight: 16, maxTopicLength: 256, maxTopicLevels: 8, maxRetainedMessages: 100, onStoreError: () => undefined });
  engine = new ZeroTrustPolicyEngine();
  dm = new DeviceMessaging({ broker, policy: engine, events: new EventLog(store.events), limits: { maxTopicLength: 256, maxTopicLevels: 8, maxPayloadSize: 1024, retainAvailable: true, maxSubscriptionsPerDevice: 4 } });
  app = Fastify();
  app.get('/s', async (_req, reply) => {
    serveEventStream(reply, dm, { principal, policy: engine.compile(principal), source: '127.0.0.1:1', protocol: 'http' }, 'plant/d1/#', { heartbeatMs: 100, drainTimeoutMs: 1000, onSlowConsumer: () => slow.push('slow'), alsoRequires: [] });
    return reply;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterEach(async () => {
  dm.stop();
  await app.close();
  await broker.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(): Promise<{ res: IncomingMessage; text: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/s' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      const closed = new Promise<void>((r) => res.on('close', () => r()));
      resolve({ res, text: () => text, closed });
    }).on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('sends heartbeats at the interval and messages as events with increasing ids', async () => {
  const s = await open();
  expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  await sleep(350);
  expect(s.text().match(/^: heartbeat$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
  broker.publish({ topic: 'plant/d1/a', payload: Buffer.from('1'), qos: 1, retain: false, properties: {}, expiresAt: null, origin: null });
  broker.publish({ topic: 'plant/d1/b', payload: Buffer.from('line\nbreak'), qos: 0, retain: false, properties: { contentType: 'text/plain' }, expiresAt: null, origin: null });
  await sleep(50);
  expect(s.text()).toContain('id: 1\nevent: message\ndata: {"topic":"plant/d1/a","payload":"1","encoding":"utf8","retain":false,"qos":1}\n\n');
  // A newline in the payload stays inside the one JSON data line.
  expect(s.text()).toContain('id: 2\nevent: message\ndata: {"topic":"plant/d1/b","payload":"line\\nbreak","encoding":"utf8","retain":false,"qos":0,"contentType":"text/plain"}\n\n');
  s.res.destroy();
});

it('ends with an end event when the grant is withdrawn', async () => {
  const s = await open();
  await sleep(50);
  engine.update({ policies: [{ name: 'deny-own', version: '2026-11', statements: [{ sid: 'no', effect: 'deny', actions: ['mqtt:subscribe'], resources: ['plant/d1/#'] }] }], attachments: { segment: { plant: ['deny-own'] }, device: {} } });
  await s.closed;
  expect(s.text()).toMatch(/event: end\ndata: \{"reason":"policy"\}\n\n$/);
  expect(broker.sessionCount).toBe(0);
});

it('removes the broker session when the client goes away', async () => {
  const s = await open();
  await sleep(50);
  expect(broker.sessionCount).toBe(1);
  s.res.destroy();
  const deadline = Date.now() + 2000;
  while (broker.sessionCount > 0 && Date.now() < deadline) await sleep(20);
  expect(broker.sessionCount).toBe(0);
  expect(dm.subscriptionCount).toBe(0);
  expect(slow).toEqual([]);
});

it('ends with an end event when a ban matches the device, and leaves streams it does not match', async () => {
  const s = await open();
  await sleep(50);
  expect(dm.closeBanned(() => null)).toBe(0);
  expect(dm.closeBanned((ctx) => (ctx.principal.id === 'd1' ? { id: 7, kind: 'username' } : null))).toBe(1);
  await s.closed;
  expect(s.text()).toMatch(/event: end\ndata: \{"reason":"banned"\}\n\n$/);
  const closed = await store.events.list({ type: 'http.subscription_closed' });
  expect(closed.at(-1)?.detail).toMatchObject({ cause: 'banned', banId: 7, kind: 'username' });
});
