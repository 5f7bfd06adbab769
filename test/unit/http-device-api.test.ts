/**
 * The HTTPS device API (issue 4 point 1, HTTP half of points 6-8): real HTTPS to a real gateway,
 * devices authenticated by client certificate or device token, messages crossing to and from
 * real MQTT clients, refusals with their status and security event, and live SSE streams ended
 * by certificate revocation and by a move to quarantine.
 */
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSerial } from '../../src/core/fleet/register-device.ts';
import type { Store } from '../../src/core/ports.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';
import { RawClient } from './helpers/raw-client.ts';

interface Auth {
  cert?: DeviceCreds;
  authorization?: string;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function options(t: TestGateway, method: string, path: string, auth: Auth, headers: Record<string, string> = {}): RequestOptions {
  return {
    host: '127.0.0.1',
    port: t.port('https'),
    servername: 'localhost',
    method,
    path,
    ca: caPem,
    agent: false,
    headers: { ...headers, ...(auth.authorization ? { authorization: auth.authorization } : {}) },
    ...(auth.cert ? { cert: auth.cert.cert, key: auth.cert.key } : {}),
  };
}

function call(t: TestGateway, method: string, path: string, auth: Auth, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Response> {
  return httpsCall(options(t, method, path, auth, headers), body);
}

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

interface Stream {
  res: IncomingMessage;
  events: SseEvent[];
  comments: string[];
  ended: Promise<void>;
  next(event?: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Opens an SSE stream; resolves once the 200 and its headers arrived (throws on another status). */
function sse(t: TestGateway, path: string, auth: Auth): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(options(t, 'GET', path, auth, { accept: 'text/event-stream' }), (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)));
        return;
      }
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters: Array<() => void> = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { event: 'message', data: '' };
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              e.data = line.slice(6);
              any = true;
            }
          }
          if (any) events.push(e);
        }
        for (const w of waiters.splice(0)) w();
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      void ended.then(() => {
        for (const w of waiters.splice(0)) w();
      });
      let read = 0;
      resolve({
        res,
        events,
        comments,
        ended,
        async next(event = 'message', timeoutMs = 3000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            while (read < events.length) {
              const e = events[read++]!;
              if (e.event === event) return e;
            }
            if (Date.now() > deadline) throw new Error(`no ${event} event; got ${JSON.stringify(events)}`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 50);
            });
          }
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let t: TestGateway;
let caPem: string;
let other: Store;
const d: Record<string, DeviceCreds> = {};

const basic = (c: DeviceCreds): Auth => ({ authorization: `Basic ${Buffer.from(`${c.id}:${c.password!}`).toString('base64')}` });
const bearer = (c: DeviceCreds): Auth => ({ authorization: `Bearer ${c.id}.${c.password!}` });
const cert = (c: DeviceCreds): Auth => ({ cert: c });

async function eventsOf(type: string, principal?: string): Promise<Array<{ principal: string | null; detail: Record<string, unknown> }>> {
  await t.gateway.events.flush();
  const list = await t.gateway.store.events.list({ type });
  return list.filter((e) => principal === undefined || e.principal === principal);
}

async function mqtt(id: string, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await RawClient.tcp(t.port('mqtt'), 5);
  const ack = await c.connect({ clientId: id, username: id, password: Buffer.from(d[id]!.password!), ...extra });
  expect(ack.reasonCode).toBe(0);
  return c;
}

async function mqttSubscribe(c: RawClient, filter: string): Promise<void> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
  expect((await c.next('suback')).granted).toEqual([1]);
}

beforeAll(async () => {
  t = await startTestGateway({ mqtt: { maxPacketSize: 4096, drainTimeoutMs: 300 } });
  for (const id of ['dev1', 'dev2', 'dev3', 'dev4', 'dev5']) d[id] = await addDevice(t, id, 'hvac', true);
  caPem = d.dev1!.ca;
  other = await openSqliteStore(join(t.dataDir, 'palisade.db'));
});
afterAll(async () => {
  await other.close();
  await t.stop();
});

describe('publish', () => {
  it('a publish by client certificate reaches a live MQTT subscriber', async () => {
    const sub = await mqtt('dev1');
    await mqttSubscribe(sub, 'hvac/dev1/#');
    const r = await call(t, 'POST', '/api/v1/publish/hvac/dev1/temp', cert(d.dev1!), '21.5', { 'content-type': 'text/plain' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ topic: 'hvac/dev1/temp', qos: 1, retain: false, bytes: 4 });
    const p = await sub.next('publish');
    expect([p.topic, p.payload.toString(), p.properties?.contentType]).toEqual(['hvac/dev1/temp', '21.5', 'text/plain']);
    sub.socket.destroy();
  });

  it('answers only after the message is stored for an offline persistent session (token auth, Basic and Bearer)', async () => {
    const s = await mqtt('dev2', { clean: false, properties: { sessionExpiryInterval: 600 } });
    await mqttSubscribe(s, 'hvac/dev2/#');
    s.send({ cmd: 'disconnect' });
    await s.waitClosed();
    for (const [auth, body] of [[basic(d.dev2!), 'a'], [bearer(d.dev2!), 'b']] as const) {
      const r = await call(t, 'POST', '/api/v1/publish/hvac%2Fdev2%2Fstate', auth, Buffer.from(body));
      expect(r.status).toBe(200);
      // No wait: the response itself is the promise that the store holds it.
      const stored = await t.gateway.store.messages.listForSession('dev2');
      expect(stored.at(-1)?.payload.toString()).toBe(body);
    }
    const again = await mqtt('dev2', { clean: false, properties: { sessionExpiryInterval: 0 } });
    expect((await again.next('publish')).payload.toString()).toBe('a');
    expect((await again.next('publish')).payload.toString()).toBe('b');
    again.socket.destroy();
  });

  it('takes topics longer than the router parameter limit (up to mqtt.maxTopicLength)', async () => {
    const topic = `hvac/dev1/${'x'.repeat(400)}`;
    const r = await call(t, 'POST', `/api/v1/publish/${topic}`, cert(d.dev1!), 'long');
    expect(r.status, r.body.toString()).toBe(200);
    expect((JSON.parse(r.body.toString()) as { topic: string }).topic).toBe(topic);
  });

  it('refuses a topic outside the policy with 403, the rule in the event and not in the body', async () => {
    const r = await call(t, 'POST', '/api/v1/publish/hvac/dev2/temp', cert(d.dev1!), 'x');
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body.toString()) as { code: string; error: string };
    expect(body.code).toBe('PAL_ERR_POLICY_DENIED');
    expect(r.body.toString()).not.toContain('default-deny');
    expect((await eventsOf('http.publish_denied', 'dev1')).at(-1)?.detail).toMatchObject({ topic: 'hvac/dev2/temp', rule: 'default-deny' });
  });

  it('refuses an invalid topic with 400, an oversized body with 413 (declared or chunked), each with an event', async () => {
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/%2B', cert(d.dev1!), 'x')).status).toBe(400);
    expect(await eventsOf('http.publish_invalid', 'dev1')).toHaveLength(1);
    // Malformed percent-encoding is a 400, not a crash.
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/%E0%A4%A', cert(d.dev1!), 'x')).status).toBe(400);
    const big = await call(t, 'POST', '/api/v1/publish/hvac/dev1/big', cert(d.dev1!), Buffer.alloc(5000));
    expect(big.status).toBe(413);
    expect((JSON.parse(big.body.toString()) as { code: string }).code).toBe('PAL_ERR_BODY_TOO_LARGE');
    // Chunked: no Content-Length, so the limit bites while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ ...options(t, 'POST', '/api/v1/publish/hvac/dev1/big', cert(d.dev1!)), headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(1000));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await eventsOf('http.payload_too_large', 'dev1')).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a request without credentials with 401, and a wrong token or an operator-style token with 401', async () => {
    const none = await call(t, 'POST', '/api/v1/publish/hvac/dev1/temp', {}, 'x');
    expect(none.status).toBe(401);
    expect((JSON.parse(none.body.toString()) as { code: string }).code).toBe('PAL_ERR_AUTH_NO_CREDENTIALS');
    expect((await eventsOf('http.unauthenticated')).length).toBeGreaterThan(0);
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/temp', { authorization: 'Basic ' + Buffer.from('dev1:wrong').toString('base64') }, 'x')).status).toBe(401);
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/temp', { authorization: 'Bearer pal_op_0123456789abcdef' }, 'x')).status).toBe(401);
    expect((await eventsOf('http.auth_failed', 'dev1')).at(-1)?.detail).toMatchObject({ method: 'token', code: 'PAL_ERR_AUTH_FAILED' });
  });

  it('refuses HTTP as a transport where a policy denies http:post, before the topic is considered', async () => {
    await other.policies.put({ name: 'no-http-post', version: '2026-11', statements: [{ sid: 'deny', effect: 'deny', actions: ['http:post'], resources: ['/api/v1/publish/hvac/dev5/**'] }] });
    await other.policies.attach({ kind: 'device', id: 'dev5' }, 'no-http-post');
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline && (status = (await call(t, 'POST', '/api/v1/publish/hvac/dev5/temp', basic(d.dev5!), 'x')).status) !== 403) await new Promise((r) => setTimeout(r, 50));
    expect(status).toBe(403);
    expect((await eventsOf('http.request_denied', 'dev5')).at(-1)?.detail).toMatchObject({ method: 'POST', rule: 'no-http-post#deny' });
  });
});

describe('retained', () => {
  it('GET returns the retained payload with its content type, 404 when none, 403 for another device', async () => {
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/config?retain=true&qos=0', cert(d.dev1!), '{"mode":"eco"}', { 'content-type': 'application/json' })).status).toBe(200);
    const r = await call(t, 'GET', '/api/v1/retained/hvac/dev1/config', cert(d.dev1!));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body.toString()).toBe('{"mode":"eco"}');
    expect((await call(t, 'GET', '/api/v1/retained/hvac/dev1/none', cert(d.dev1!))).status).toBe(404);
    expect((await call(t, 'GET', '/api/v1/retained/hvac/dev1/config', basic(d.dev2!))).status).toBe(403);
    expect((await eventsOf('http.retained_denied', 'dev2')).length).toBe(1);
  });

  it('an MQTT retained publish is readable over HTTP as bytes', async () => {
    const c = await mqtt('dev3');
    c.send({ cmd: 'publish', topic: 'hvac/dev3/blob', payload: Buffer.from([0, 255, 1]), qos: 1, messageId: 7, retain: true, dup: false });
    await c.next('puback');
    const r = await call(t, 'GET', '/api/v1/retained/hvac/dev3/blob', basic(d.dev3!));
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect([...r.body]).toEqual([0, 255, 1]);
    c.socket.destroy();
  });
});

describe('subscribe (SSE)', () => {
  it('streams MQTT publishes as events, retained first, binary as base64', async () => {
    const s = await sse(t, '/api/v1/subscribe?filter=hvac%2Fdev3%2F%23', basic(d.dev3!));
    expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const retained = JSON.parse((await s.next()).data) as Record<string, unknown>;
    expect(retained).toMatchObject({ topic: 'hvac/dev3/blob', payload: Buffer.from([0, 255, 1]).toString('base64'), encoding: 'base64', retain: true });
    const c = await mqtt('dev3');
    c.send({ cmd: 'publish', topic: 'hvac/dev3/temp', payload: Buffer.from('19'), qos: 0, retain: false, dup: false });
    const e = await s.next();
    expect(e.id).toBe('2');
    expect(JSON.parse(e.data)).toEqual({ topic: 'hvac/dev3/temp', payload: '19', encoding: 'utf8', retain: false, qos: 0 });
    s.close();
    c.socket.destroy();
    // The client went away: its broker session goes with it.
    const deadline = Date.now() + 2000;
    while ([...t.gateway.broker.sessions()].some((x) => x.clientId.startsWith('http:dev3:')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect([...t.gateway.broker.sessions()].some((x) => x.clientId.startsWith('http:dev3:'))).toBe(false);
  });

  it('the path form works and a filter outside the policy is refused with 403 before any stream', async () => {
    const s = await sse(t, '/api/v1/subscribe/hvac/dev2/+', cert(d.dev2!));
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev2/x', bearer(d.dev2!), 'y')).status).toBe(200);
    expect((JSON.parse((await s.next()).data) as { topic: string }).topic).toBe('hvac/dev2/x');
    s.close();
    await expect(sse(t, '/api/v1/subscribe/hvac/%23', cert(d.dev2!))).rejects.toThrow(/status 403/);
    expect((await eventsOf('http.subscribe_denied', 'dev2')).at(-1)?.detail).toMatchObject({ filter: 'hvac/#', rule: 'default-deny' });
  });

  it('a revoked certificate ends its live stream within a second; the certificate is refused after', async () => {
    const s = await sse(t, '/api/v1/subscribe/hvac/dev4/%23', cert(d.dev4!));
    await new Promise((r) => setTimeout(r, 100));
    const serial = normalizeSerial(new X509Certificate(d.dev4!.cert).serialNumber);
    expect(await other.certificates.revoke(serial, Date.now(), 'keyCompromise')).toBe(true);
    const revokedAt = Date.now();
    await s.ended;
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect(s.events.at(-1)).toMatchObject({ event: 'end', data: JSON.stringify({ reason: 'cert-revoked' }) });
    expect((await call(t, 'GET', '/api/v1/retained/hvac/dev4/x', cert(d.dev4!))).status).toBe(401);
    expect((await eventsOf('http.subscription_closed', 'dev4')).at(-1)?.detail).toMatchObject({ cause: 'certificate revoked', certSerial: serial });
  });

  it('a device moved to quarantine has its stream ended and its HTTP publishes limited at once', async () => {
    const s = await sse(t, '/api/v1/subscribe/hvac/dev5/%23', basic(d.dev5!));
    await new Promise((r) => setTimeout(r, 100));
    await other.devices.update('dev5', { segment: 'quarantine' });
    await s.ended;
    expect(s.events.at(-1)).toMatchObject({ event: 'end', data: JSON.stringify({ reason: 'device-changed' }) });
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev5/temp', basic(d.dev5!), 'x')).status).toBe(403);
    // What quarantine allows still works over HTTP.
    expect((await call(t, 'POST', '/api/v1/publish/quarantine/dev5/status', basic(d.dev5!), 'ok')).status).toBe(200);
  });
});

describe('slow SSE consumer', () => {
  it('a client that stops reading is cut off after the drain timeout, with an event, and leaves no session', async () => {
    const s = await sse(t, '/api/v1/subscribe/hvac/dev1/%23', cert(d.dev1!));
    s.res.pause();
    const c = await mqtt('dev1');
    const chunk = Buffer.alloc(4000, 0x62);
    const deadline = Date.now() + 10_000;
    while ((await eventsOf('http.slow_consumer', 'dev1')).length === 0 && Date.now() < deadline) {
      for (let i = 0; i < 200; i++) c.send({ cmd: 'publish', topic: 'hvac/dev1/flood', payload: chunk, qos: 0, retain: false, dup: false });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await eventsOf('http.slow_consumer', 'dev1')).at(-1)?.detail).toMatchObject({ filter: 'hvac/dev1/#', drainTimeoutMs: 300 });
    const gone = Date.now() + 2000;
    while ([...t.gateway.broker.sessions()].some((x) => x.clientId.startsWith('http:dev1:')) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
    expect([...t.gateway.broker.sessions()].map((x) => x.clientId).filter((id) => id.startsWith('http:dev1:'))).toEqual([]);
    // Others are served meanwhile.
    expect((await call(t, 'POST', '/api/v1/publish/hvac/dev1/after', cert(d.dev1!), 'x')).status).toBe(200);
    c.socket.destroy();
    s.close();
  });
});

describe('OpenAPI', () => {
  it('describes the device routes in /api/openapi.json', async () => {
    const r = await call(t, 'GET', '/api/openapi.json', {});
    const doc = JSON.parse(r.body.toString()) as { paths: Record<string, Record<string, { tags?: string[]; security?: unknown[]; parameters?: unknown[] }>>; components: { securitySchemes: Record<string, unknown> } };
    expect(doc.paths['/api/v1/publish/{*}']?.post?.tags).toEqual(['device']);
    expect(doc.paths['/api/v1/retained/{*}']?.get).toBeDefined();
    expect(doc.paths['/api/v1/subscribe']?.get).toBeDefined();
    expect(doc.paths['/api/v1/subscribe/{*}']?.get).toBeDefined();
    expect(doc.components.securitySchemes.deviceCertificate).toEqual({ type: 'mutualTLS' });
    // The wildcard is a declared path parameter, so the document is consistent.
    expect(doc.paths['/api/v1/publish/{*}']?.post?.parameters).toContainEqual(expect.objectContaining({ name: '*', in: 'path', required: true }));
  });
});

describe('throttle', () => {
  let g: TestGateway;
  let dev: DeviceCreds;
  beforeAll(async () => {
    g = await startTestGateway({ shield: { authThrottle: { usernameThreshold: 3, addressThreshold: 100 } } });
    dev = await addDevice(g, 'thr1', 'hvac', true);
  });
  afterAll(async () => {
    await g.stop();
  });

  it('answers 429 with Retry-After once a device id has been guessed too often, before checking the token', async () => {
    const wrong = { authorization: `Basic ${Buffer.from('thr1:nope').toString('base64')}` };
    const saved = caPem;
    caPem = dev.ca;
    try {
      for (let i = 0; i < 3; i++) expect((await call(g, 'POST', '/api/v1/publish/hvac/thr1/t', wrong, 'x')).status).toBe(401);
      const r = await call(g, 'POST', '/api/v1/publish/hvac/thr1/t', { authorization: `Basic ${Buffer.from(`thr1:${dev.password!}`).toString('base64')}` }, 'x');
      expect(r.status).toBe(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await g.gateway.events.flush();
      expect((await g.gateway.store.events.list({ type: 'http.auth_throttled' })).length).toBe(1);
    } finally {
      caPem = saved;
    }
  });

  it('stopping the gateway ends live SSE streams with a shutdown event instead of hanging', async () => {
    const other = await addDevice(g, 'thr2', 'hvac', true);
    const saved = caPem;
    caPem = other.ca;
    try {
      const s = await sse(g, '/api/v1/subscribe/hvac/thr2/%23', { cert: other });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await g.gateway.stop();
      await s.ended;
      expect(Date.now() - started).toBeLessThan(3000);
      expect(s.events.at(-1)).toMatchObject({ event: 'end', data: JSON.stringify({ reason: 'shutdown' }) });
    } finally {
      caPem = saved;
    }
  });
});
