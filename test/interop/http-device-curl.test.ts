/**
 * The HTTPS device API with real peers against a real `palisade start` process (issue 4 point 1):
 * `curl` publishes with the device's certificate and with its token (HTTP Basic), `mosquitto_sub`
 * receives; `mosquitto_pub` publishes and `curl -N` receives it as Server-Sent Events; curl's
 * oversized and credential-less requests get 413 and 401.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, mosquittoPub, runTool, startSubscribed, startTool, type DeviceCredentials } from './harness.ts';

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  mqtt: { maxPacketSize: 8192 },
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { port: 0, host: '127.0.0.1' },
    coap: { port: 0 },
  },
};

let gw: Gateway;
let dev: DeviceCredentials;
let base: string;

beforeAll(async () => {
  gw = await Gateway.start(CONFIG);
  dev = await gw.addDevice('th-1', 'hvac', { password: true });
  base = `https://localhost:${gw.endpoint('https').port}/api/v1`;
}, 120_000);

afterAll(async () => {
  try {
    await gw?.dispose();
  } finally {
    await killAll();
  }
});

const mqttAuth = (): string[] => ['-h', '127.0.0.1', '-p', String(gw.endpoint('mqtt').port), '-i', dev.id, '-u', dev.id, '-P', dev.password!];

/** curl with the gateway's CA; returns [status, body]. */
async function curl(args: string[]): Promise<[number, string]> {
  const r = await runTool('curl', ['-sS', '--cacert', dev.caPath, '-o', '-', '-w', '\n%{http_code}', ...args], { timeoutMs: 15_000 });
  expect(r.code, explain(r)).toBe(0);
  const i = r.stdout.lastIndexOf('\n');
  return [Number(r.stdout.slice(i + 1)), r.stdout.slice(0, i)];
}

describe('curl against the device API', () => {
  it('publishes with the client certificate and with the device token; mosquitto_sub receives both', async () => {
    const sub = await startSubscribed([...mqttAuth(), '-t', 'hvac/th-1/#', '-C', '2', '-v']);
    const [s1, b1] = await curl(['--cert', dev.certPath, '--key', dev.keyPath, '-H', 'content-type: text/plain', '--data-binary', 'by-cert', `${base}/publish/hvac/th-1/temp`]);
    expect(s1, b1).toBe(200);
    const [s2] = await curl(['-u', `${dev.id}:${dev.password!}`, '--data-binary', 'by-token', `${base}/publish/hvac/th-1/temp`]);
    expect(s2).toBe(200);
    const r = await sub.done;
    // startSubscribed runs mosquitto_sub -d: keep the message lines.
    expect(r.stdout.split('\n').filter((l) => l.startsWith('hvac/'))).toEqual(['hvac/th-1/temp by-cert', 'hvac/th-1/temp by-token']);
  });

  it('streams a mosquitto_pub publish to curl -N as an SSE event', async () => {
    const stream = startTool('curl', ['-sSN', '--cacert', dev.caPath, '-u', `${dev.id}:${dev.password!}`, `${base}/subscribe/hvac/th-1/%23`], { timeoutMs: 20_000 });
    try {
      await stream.waitForOutput(/: subscribed hvac\/th-1\/#/, 10_000);
      const p = await mosquittoPub([...mqttAuth(), '-t', 'hvac/th-1/state', '-m', 'from-mqtt', '-q', '1']);
      expect(p.code, explain(p)).toBe(0);
      await stream.waitForOutput(/"payload":"from-mqtt"/, 10_000);
      expect(stream.stdout).toMatch(/id: \d+\nevent: message\ndata: \{"topic":"hvac\/th-1\/state","payload":"from-mqtt","encoding":"utf8"/);
    } finally {
      stream.kill();
    }
  });

  it('refuses an oversized body with 413 and a request without credentials with 401', async () => {
    const big = join(gw.root, 'big.bin');
    await writeFile(big, Buffer.alloc(10_000, 1));
    const [s1] = await curl(['--cert', dev.certPath, '--key', dev.keyPath, '--data-binary', `@${big}`, `${base}/publish/hvac/th-1/big`]);
    expect(s1).toBe(413);
    const [s2, body] = await curl(['--data-binary', 'x', `${base}/publish/hvac/th-1/temp`]);
    expect(s2).toBe(401);
    expect(JSON.parse(body)).toMatchObject({ code: 'PAL_ERR_AUTH_NO_CREDENTIALS' });
  });
});
