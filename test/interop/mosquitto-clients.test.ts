/**
 * Debian mosquitto-clients (mosquitto_pub / mosquitto_sub, libmosquitto 2) and openssl s_client
 * against a real Palisade gateway over mutual TLS.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, mosquittoPub, mosquittoSub, runTool, startSubscribed, withTimeout, type DeviceCredentials, type ToolResult } from './harness.ts';

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { port: 0, host: '127.0.0.1' },
  },
  policy: {
    segments: {
      // Under the built-in rule a device reads only hvac/<its id>/#; the monitor needs more.
      hvac: { subscribe: ['hvac/+/telemetry', 'hvac/+/state'] },
    },
  },
};

let gw: Gateway;
let thermostat: DeviceCredentials;
let monitor: DeviceCredentials;
let other: DeviceCredentials;
let host: string;

function tlsArgs(d: DeviceCredentials): string[] {
  return ['--cafile', d.caPath, '--cert', d.certPath, '--key', d.keyPath, '-h', host, '-p', String(gw.endpoint('mqtts').port)];
}

beforeAll(async () => {
  gw = await Gateway.start(CONFIG);
  thermostat = await gw.addDevice('thermostat-17', 'hvac');
  monitor = await gw.addDevice('monitor', 'hvac');
  other = await gw.addDevice('other', 'hvac');
  // mosquitto verifies the host name against the server certificate; use localhost if it is there.
  const server = new X509Certificate(await gw.readPem('server-cert.pem'));
  host = server.checkHost('localhost') ? 'localhost' : '127.0.0.1';
}, 120_000);

afterAll(async () => {
  try {
    await gw?.dispose();
  } finally {
    await killAll();
  }
});

describe('server certificate', () => {
  it('names every configured host name and chains to ca.pem', async () => {
    const server = new X509Certificate(await gw.readPem('server-cert.pem'));
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const r = await runTool('openssl', ['verify', '-CAfile', gw.caPath, '-purpose', 'sslserver', '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1', `${gw.dataDir}/pki/server-cert.pem`], { timeoutMs: 10_000 });
    expect(r.code, explain(r)).toBe(0);
  });
});

describe.each(['mqttv311', 'mqttv5'] as const)('mosquitto_pub / mosquitto_sub -V %s', (v) => {
  it('thermostat-17 publishes telemetry with its certificate and the monitor receives it', async () => {
    const sub = await startSubscribed([...tlsArgs(monitor), '-V', v, '-i', monitor.id, '-t', 'hvac/+/telemetry', '-q', '1', '-v', '-C', '1', '-W', '15'], 20_000);
    const pub = await mosquittoPub([...tlsArgs(thermostat), '-V', v, '-i', 'thermostat-17', '-t', 'hvac/thermostat-17/telemetry', '-m', '21.5']);
    expect(pub.code, explain(pub)).toBe(0);
    const got = await sub.done;
    expect(got.code, explain(got)).toBe(0);
    expect(got.stdout).toMatch(/^hvac\/thermostat-17\/telemetry 21\.5$/m);
  });

  it('without --cert/--key the TLS handshake fails and mosquitto_pub exits non-zero', async () => {
    const r = await mosquittoPub(['--cafile', thermostat.caPath, '-h', host, '-p', String(gw.endpoint('mqtts').port), '-V', v, '-i', 'thermostat-17', '-t', 'hvac/thermostat-17/telemetry', '-m', '21.5']);
    expect(r.timedOut, explain(r)).toBe(false);
    expect(r.code, explain(r)).not.toBe(0);
  });

  it("with another device's client id (-i other) the CONNECT is refused and mosquitto_pub exits non-zero", async () => {
    const r = await mosquittoPub([...tlsArgs(thermostat), '-V', v, '-i', other.id, '-t', 'hvac/thermostat-17/telemetry', '-m', '21.5']);
    expect(r.timedOut, explain(r)).toBe(false);
    // mosquitto_pub exits with the CONNACK code: 3.1.1 return code 2 (identifier rejected),
    // 5.0 reason code 0x85 = 133 (Client Identifier not valid).
    expect(r.stderr, explain(r)).toMatch(v === 'mqttv5' ? /Client Identifier not valid/i : /identifier rejected/i);
    expect(r.code, explain(r)).toBe(v === 'mqttv5' ? 133 : 2);
  });

  it('a filter outside the policy is refused in the SUBACK', async () => {
    // monitor (hvac) holds hvac/+/telemetry and hvac/+/state; hvac/thermostat-17/secret is not granted.
    const r = await runTool('stdbuf', ['-oL', 'mosquitto_sub', ...tlsArgs(monitor), '-V', v, '-i', monitor.id, '-t', 'hvac/thermostat-17/secret', '-C', '1', '-W', '5', '-d'], { timeoutMs: 15_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    // libmosquitto prints the SUBACK codes, then gives up when every filter was refused.
    expect(r.stdout, explain(r)).toMatch(v === 'mqttv5' ? /Subscribed \(mid: \d+\): 135\b/ : /Subscribed \(mid: \d+\): 128\b/);
    expect(r.stderr, explain(r)).toMatch(/All subscription requests were denied/);
  });
});

describe('retained messages with mosquitto_sub -C 1 -W 5', () => {
  it('gets the retained message, then nothing after it was deleted', async () => {
    const set = await mosquittoPub([...tlsArgs(thermostat), '-i', thermostat.id, '-q', '1', '-r', '-t', 'hvac/thermostat-17/state', '-m', 'heating']);
    expect(set.code, explain(set)).toBe(0);
    for (const v of ['mqttv311', 'mqttv5']) {
      const r = await mosquittoSub([...tlsArgs(monitor), '-V', v, '-i', monitor.id, '-t', 'hvac/thermostat-17/state', '-v', '-C', '1', '-W', '5']);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout.trim()).toBe('hvac/thermostat-17/state heating');
    }
    const del = await mosquittoPub([...tlsArgs(thermostat), '-i', thermostat.id, '-q', '1', '-r', '-n', '-t', 'hvac/thermostat-17/state']);
    expect(del.code, explain(del)).toBe(0);
    const none = await mosquittoSub([...tlsArgs(monitor), '-i', monitor.id, '-t', 'hvac/thermostat-17/state', '-v', '-C', '1', '-W', '2']);
    // -W expiring without a message: mosquitto_sub prints "Timed out" and exits 27.
    expect(none.timedOut, explain(none)).toBe(false);
    expect(none.stdout.trim(), explain(none)).toBe('');
    expect(none.code, explain(none)).toBe(27);
  });
});

// ---------------------------------------------------------------------------------------------
// TLS versions with openssl s_client (handshake only)
// ---------------------------------------------------------------------------------------------

function sClient(port: number, version: string, d: DeviceCredentials | undefined, ca: string): Promise<ToolResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, `-${version}`, '-servername', 'localhost', '-CAfile', ca, '-verify_return_error', '-brief'];
  // OpenSSL 3 refuses TLS 1.0/1.1 at security level >= 1 on its own; drop to 0 so a refusal
  // can only come from the server (the control test below proves this client can speak 1.1).
  if (version === 'tls1_1' || version === 'tls1') args.push('-cipher', 'DEFAULT:@SECLEVEL=0');
  if (d) args.push('-cert', d.certPath, '-key', d.keyPath);
  return runTool('openssl', args, { timeoutMs: 10_000, input: '' });
}

function negotiated(r: ToolResult): string | undefined {
  return /Protocol version: (TLSv[\d.]+)/.exec(r.stdout + r.stderr)?.[1];
}

describe('TLS protocol versions (openssl s_client)', () => {
  let control: Server | undefined;

  afterAll(async () => {
    if (control) await withTimeout(new Promise<void>((res) => control!.close(() => res())), 5_000, 'control server close').catch(() => undefined);
  });

  it('control: this openssl s_client does negotiate TLS 1.1 with a server that allows it', async () => {
    const pki = `${gw.dataDir}/pki`;
    control = createServer({
      key: await readFile(`${pki}/server-key.pem`),
      cert: await readFile(`${pki}/server-cert.pem`),
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    }, (s) => s.end());
    control.on('tlsClientError', () => undefined);
    const port = await new Promise<number>((res, rej) => {
      control!.once('error', rej);
      control!.listen(0, '127.0.0.1', () => {
        const a = control!.address();
        res(typeof a === 'object' && a ? a.port : 0);
      });
    });
    const r = await sClient(port, 'tls1_1', undefined, gw.caPath);
    if (negotiated(r) !== 'TLSv1.1') {
      // Node's own OpenSSL may refuse to serve 1.1 here; then the refusal test cannot tell who said no.
      console.warn(`control server did not negotiate TLS 1.1:\n${explain(r)}`);
    }
    expect(negotiated(r), explain(r)).toBe('TLSv1.1');
  });

  it('TLS 1.1 is refused by the mqtts listener', async () => {
    const r = await sClient(gw.endpoint('mqtts').port, 'tls1_1', thermostat, gw.caPath);
    expect(r.timedOut, explain(r)).toBe(false);
    expect(r.code, explain(r)).not.toBe(0);
    expect(negotiated(r), explain(r)).toBeUndefined();
  });

  it('TLS 1.0 is refused by the mqtts listener', async () => {
    const r = await sClient(gw.endpoint('mqtts').port, 'tls1', thermostat, gw.caPath);
    expect(r.code, explain(r)).not.toBe(0);
    expect(negotiated(r), explain(r)).toBeUndefined();
  });

  for (const [flag, name] of [['tls1_2', 'TLSv1.2'], ['tls1_3', 'TLSv1.3']] as const) {
    it(`${name} negotiates with the device certificate and a server certificate valid for localhost`, async () => {
      const r = await sClient(gw.endpoint('mqtts').port, flag, thermostat, gw.caPath);
      expect(r.code, explain(r)).toBe(0);
      expect(negotiated(r), explain(r)).toBe(name);
      expect(r.stdout + r.stderr, explain(r)).toMatch(/Verification: OK/);
    });
  }

  it('TLS 1.1 is refused by the https (WebSocket) listener too', async () => {
    const r = await sClient(gw.endpoint('https').port, 'tls1_1', thermostat, gw.caPath);
    expect(r.code, explain(r)).not.toBe(0);
    expect(negotiated(r), explain(r)).toBeUndefined();
  });
});
