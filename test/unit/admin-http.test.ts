/**
 * The fastify app on the HTTPS listener: PKI routes still served, errors as JSON {error, code}
 * with the right status and no stack, a body limit, and MQTT over WebSocket on the same port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';

let t: TestGateway;
let ca: string;

interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Resp> {
  return httpsCall({ host: '127.0.0.1', port: t.port('https'), method, path, ca, servername: 'localhost', headers }, body);
}

beforeAll(async () => {
  t = await startTestGateway();
  // The CA is fetched once without verification, then every later call pins it.
  const r = await httpsCall({ host: '127.0.0.1', port: t.port('https'), path: '/pki/ca.pem', rejectUnauthorized: false });
  ca = r.body.toString();
});
afterAll(async () => t.stop());

describe('HTTPS listener on fastify', () => {
  it('serves health, the CA chain and the CRL', async () => {
    const h = await call('GET', '/healthz');
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body.toString())).toEqual({ status: 'ok' });
    const pem = await call('GET', '/pki/ca.pem');
    expect(pem.headers['content-type']).toMatch(/application\/x-pem-file/);
    expect(pem.body.toString()).toMatch(/BEGIN CERTIFICATE/);
    const crl = await call('GET', '/pki/crl');
    expect(crl.status).toBe(200);
    expect(crl.headers['content-type']).toBe('application/pkix-crl');
    expect(crl.body[0]).toBe(0x30); // DER SEQUENCE
    const head = await call('HEAD', '/healthz');
    expect(head.status).toBe(200);
  });

  it('answers unknown routes, bad JSON and oversized bodies with JSON {error, code}, never a stack', async () => {
    const nf = await call('GET', '/nope');
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.body.toString())).toEqual({ error: 'not found', code: 'PAL_ERR_NOT_FOUND' });

    const bad = await call('POST', '/api/v1/auth/login', '{"username":', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    const badBody = JSON.parse(bad.body.toString()) as { error: string; code: string };
    expect(badBody.code).toBe('PAL_ERR_INVALID_ARGUMENT');
    expect(bad.body.toString()).not.toMatch(/at .*\.(ts|js):\d+/);

    const big = await call('POST', '/api/v1/auth/login', JSON.stringify({ username: 'x'.repeat(200_000) }), { 'content-type': 'application/json' });
    expect(big.status).toBe(413);
    expect((JSON.parse(big.body.toString()) as { code: string }).code).toBe('PAL_ERR_BODY_TOO_LARGE');
  });

  it('still upgrades MQTT over WebSocket on the same port, and refuses other upgrade paths', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${t.port('https')}/mqtt`, 'mqtt', { ca });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('mqtt');
    ws.close();
    const other = new WebSocket(`wss://127.0.0.1:${t.port('https')}/elsewhere`, 'mqtt', { ca });
    const err = await new Promise<Error>((resolve) => other.once('error', resolve));
    expect(err.message).toMatch(/404/);
  });
});
