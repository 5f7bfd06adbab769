/**
 * libcoap's coap-client-notls (Debian libcoap3-bin) against a real Palisade gateway over plain
 * UDP with an anonymous segment: GET/POST/PUT/DELETE, Observe, a blockwise PUT of 5 KB in 64-byte
 * blocks (libcoap changes the token per block: the case node-coap fails), blockwise GET,
 * /.well-known/core, and a message published with mosquitto_pub observed over CoAP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { mosquittoPub, runTool, startTool } from './harness.ts';

let gw: TestGateway;
let dir: string;
let base: string;

beforeAll(async () => {
  gw = await startTestGateway({
    listeners: { coap: { anonymous: { segment: 'lab' } }, mqtt: { anonymous: { segment: 'lab' } } },
    policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } },
  });
  dir = mkdtempSync(join(tmpdir(), 'palisade-coap-'));
  base = `coap://127.0.0.1:${gw.port('coap')}`;
});
afterAll(async () => {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

const coap = (args: string[], timeoutMs = 15_000) => runTool('coap-client-notls', [...args], { timeoutMs });

describe('coap-client-notls against Palisade', () => {
  it('PUT retains, GET reads, POST publishes, DELETE clears', async () => {
    const put = await coap(['-m', 'put', '-t', '50', '-e', '{"t":21.5}', `${base}/ps/lab/room/temp`]);
    expect(put.code).toBe(0);
    const get = await coap(['-m', 'get', `${base}/ps/lab/room/temp`]);
    expect(get.stdout).toContain('{"t":21.5}');
    const post = await coap(['-m', 'post', '-e', 'hello', `${base}/ps/lab/room/events`]);
    expect(post.code).toBe(0);
    expect(post.stderr + post.stdout).not.toMatch(/4\.\d\d|5\.\d\d/);
    const del = await coap(['-m', 'delete', `${base}/ps/lab/room/temp`]);
    expect(del.code).toBe(0);
    const gone = await coap(['-m', 'get', `${base}/ps/lab/room/temp`]);
    expect(gone.stdout + gone.stderr).toContain('4.04');
  });

  it('a denied publish is 4.03', async () => {
    const r = await coap(['-m', 'post', '-e', 'x', `${base}/ps/elsewhere/t`]);
    expect(r.stdout + r.stderr).toContain('4.03');
  });

  it('blockwise PUT of 5 KB in 64-byte blocks (-b 64), then blockwise GET returns it intact', async () => {
    const body = Array.from({ length: 5120 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const file = join(dir, 'five-kb.txt');
    writeFileSync(file, body);
    const put = await coap(['-m', 'put', '-b', '64', '-f', file, `${base}/ps/lab/blob`]);
    expect(put.code).toBe(0);
    expect(put.stdout + put.stderr).not.toMatch(/4\.\d\d|5\.\d\d/);
    expect(gw.gateway.broker.retained('lab/blob')?.payload.toString()).toBe(body);
    const get = await coap(['-m', 'get', '-b', '64', `${base}/ps/lab/blob`]);
    expect(get.stdout.trim()).toBe(body);
    const getDefault = await coap(['-m', 'get', `${base}/ps/lab/blob`]);
    expect(getDefault.stdout.trim()).toBe(body);
  });

  it('/.well-known/core answers in link format', async () => {
    const r = await coap(['-m', 'get', `${base}/.well-known/core`]);
    expect(r.stdout).toContain('</ps>');
  });

  it('observe (-s 5) receives messages published over CoAP and over MQTT (mosquitto_pub)', async () => {
    const obs = startTool('stdbuf', ['-oL', '-eL', 'coap-client-notls', '-m', 'get', '-s', '5', `${base}/ps/lab/+/alerts`], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 700));
    const post = await coap(['-m', 'post', '-e', 'from-coap', `${base}/ps/lab/coapdev/alerts`]);
    expect(post.code).toBe(0);
    await obs.waitForOutput(/from-coap/, 5000);
    const pub = await mosquittoPub(['-h', '127.0.0.1', '-p', String(gw.port('mqtt')), '-i', 'pubber', '-q', '1', '-t', 'lab/pubber/alerts', '-m', 'from-mqtt']);
    expect(pub.code).toBe(0);
    await obs.waitForOutput(/from-mqtt/, 5000);
    obs.kill();
  });
});
