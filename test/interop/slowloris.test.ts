/**
 * Slow-loris against every pre-authentication stage (issue 5, point 1), with real sockets that
 * trickle bytes and short configured timeouts so the test is bounded: an MQTT CONNECT sent one
 * byte at a time, a TLS handshake that never completes (and one trickled), HTTPS request heads
 * sent one byte at a time, and a request body trickled. Each is closed by its timeout while a
 * normal MQTT client and a normal HTTPS request keep working alongside.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { httpsCall } from '../unit/helpers/https-call.ts';
import { RawClient } from '../unit/helpers/raw-client.ts';

const PRE_AUTH_MS = 800;
const HEADERS_MS = 800;
const REQUEST_MS = 1500;

let t: TestGateway;
let ca: string;

beforeAll(async () => {
  t = await startTestGateway({
    listeners: { mqtt: { anonymous: { segment: 'lab' } } },
    policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } },
    mqtt: { preAuthTimeoutMs: PRE_AUTH_MS },
    shield: { http: { headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS } },
  });
  ca = readFileSync(join(t.dataDir, 'pki', 'ca.pem'), 'utf8');
}, 60_000);
afterAll(async () => t.stop());

/** Writes `bytes` one at a time every `everyMs` until the socket closes; resolves with how long it lived and how many bytes went out. */
function trickle(socket: Socket, bytes: Buffer, everyMs: number, capMs = 8000): Promise<{ ms: number; sent: number; received: Buffer }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let sent = 0;
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) return;
      if (sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
    }, everyMs);
    const cap = setTimeout(() => socket.destroy(), capMs);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(cap);
      resolve({ ms: Date.now() - start, sent, received: Buffer.concat(received) });
    });
  });
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function tlsTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A normal client does its whole job while the slow ones hang on. */
async function normalClientsWork(): Promise<void> {
  const c = await RawClient.tcp(t.port('mqtt'), 5);
  expect((await c.connect({ clientId: `normal-${Date.now()}` })).reasonCode).toBe(0);
  c.destroy();
  const r = await httpsCall({ host: '127.0.0.1', port: t.port('https'), method: 'GET', path: '/healthz', ca, servername: 'localhost', agent: false });
  expect(r.status).toBeLessThan(500);
}

describe('slow-loris is closed by the pre-authentication timeouts', () => {
  it('MQTT: a CONNECT trickled one byte at a time is closed at mqtt.preAuthTimeoutMs', async () => {
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'slow-'.padEnd(200, 'x') });
    const slow = trickle(await tcp(t.port('mqtt')), connect, 50);
    await normalClientsWork();
    const r = await slow;
    // Bytes kept coming (one per 50 ms), yet the clock ran from accept: closed near the bound.
    expect(r.sent).toBeGreaterThan(5);
    expect(r.sent).toBeLessThan(connect.length);
    expect(r.ms).toBeGreaterThanOrEqual(PRE_AUTH_MS - 50);
    expect(r.ms).toBeLessThan(PRE_AUTH_MS + 1000);
    await t.gateway.events.flush();
    expect((await t.gateway.store.events.list({ type: 'mqtt.preauth_timeout' })).length).toBeGreaterThan(0);
  });

  it('TLS (MQTT and HTTPS): a handshake that never completes, silent or trickled, is closed at the handshake timeout from accept', async () => {
    const silent = trickle(await tcp(t.port('mqtts')), Buffer.alloc(0), 1000);
    // The first bytes of a TLS ClientHello record, one every 50 ms, never a whole message.
    const hello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(500, 7)]);
    const trickled = trickle(await tcp(t.port('mqtts')), hello, 50);
    // The same on the HTTPS listener (node's handshakeTimeout alone is an idle timer each byte re-arms).
    const httpsTrickled = trickle(await tcp(t.port('https')), hello, 50);
    await normalClientsWork();
    for (const r of [await silent, await trickled, await httpsTrickled]) {
      expect(r.ms).toBeGreaterThanOrEqual(PRE_AUTH_MS - 50);
      expect(r.ms).toBeLessThan(PRE_AUTH_MS + 1000);
    }
  });

  it('HTTPS: request heads sent one byte at a time are closed at shield.http.headersTimeoutMs', async () => {
    const head = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`);
    const slow = await Promise.all([tlsTo(t.port('https')), tlsTo(t.port('https')), tlsTo(t.port('https'))]);
    const runs = slow.map((s) => trickle(s, head, 50));
    // An idle connection that sends nothing at all after the handshake goes too.
    const idle = trickle(await tlsTo(t.port('https')), Buffer.alloc(0), 1000);
    await normalClientsWork();
    for (const r of [...(await Promise.all(runs)), await idle]) {
      expect(r.sent).toBeLessThan(head.length);
      expect(r.ms).toBeGreaterThanOrEqual(HEADERS_MS - 50);
      // The sweep runs every headersTimeoutMs / 4, so the bound holds within a fraction of itself.
      expect(r.ms).toBeLessThan(HEADERS_MS + 1000);
      if (r.received.length > 0) expect(r.received.toString('latin1')).toMatch(/^HTTP\/1\.1 408/);
    }
  });

  it('HTTPS: a request body trickled one byte at a time is closed at shield.http.requestTimeoutMs', async () => {
    const s = await tlsTo(t.port('https'));
    s.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n');
    const r = trickle(s, Buffer.alloc(400, 0x20), 50);
    await normalClientsWork();
    const done = await r;
    expect(done.sent).toBeLessThan(400);
    expect(done.ms).toBeGreaterThanOrEqual(REQUEST_MS - 100);
    expect(done.ms).toBeLessThan(REQUEST_MS + 1500);
  });
});
