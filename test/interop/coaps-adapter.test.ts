/**
 * CoAP over DTLS: the CoAP server behind Palisade's DTLS server (dtls-adapter.ts), driven by
 * libcoap's coap-client-openssl in PSK mode. The principal comes from the session's PSK identity;
 * a session whose identity resolves to nobody gets 4.01.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';
import { DeviceMessaging } from '../../src/core/messaging/device-messaging.ts';
import { ZeroTrustPolicyEngine } from '../../src/core/policy/index.ts';
import { startCoapsListener } from '../../src/protocols/coap/dtls-adapter.ts';
import { CoapServer, DEFAULT_COAP_LIMITS } from '../../src/protocols/coap/server.ts';
import { startTestGateway, type TestGateway } from '../unit/helpers/gateway.ts';
import { runTool } from './harness.ts';

let gw: TestGateway;
let listener: Awaited<ReturnType<typeof startCoapsListener>>;
let messaging: DeviceMessaging;
const KEY = 'an-interop-psk-0123456789abcdef';

beforeAll(async () => {
  gw = await startTestGateway();
  const policy = new ZeroTrustPolicyEngine();
  const events = gw.gateway.events;
  messaging = new DeviceMessaging({ broker: gw.gateway.broker, policy, events, limits: { maxTopicLength: 1024, maxTopicLevels: 32, maxPayloadSize: 1 << 20, retainAvailable: true, maxSubscriptionsPerDevice: 16 } });
  const server = new CoapServer({ messaging, policy, events, limits: DEFAULT_COAP_LIMITS });
  listener = await startCoapsListener(server, {
    name: 'coaps', host: '127.0.0.1', port: 0, events,
    epoch: () => messaging.epoch,
    dtls: { psk: (id) => Promise.resolve(id === 'dev1' || id === 'ghost' ? Buffer.from(KEY) : null) },
    resolvePrincipal: (identity) => {
      if (identity.kind === 'psk' && identity.id === 'dev1') return Promise.resolve({ kind: 'device', id: 'dev1', segment: 'lab', authMethod: 'certificate', attrs: {}, certSerial: null, certCommonName: null });
      return Promise.reject(new PalisadeError(ErrorCodes.AUTH_FAILED, 'unknown device'));
    },
  });
});
afterAll(async () => {
  await listener.close();
  messaging.stop();
  await gw.stop();
});

const coaps = (id: string, args: string[]) => runTool('coap-client-openssl', ['-u', id, '-k', KEY, ...args], { timeoutMs: 20_000 });

describe('coap-client-openssl (PSK) through the DTLS adapter', () => {
  it('PUT then GET on the device\'s own topic, identity from the PSK', async () => {
    const url = `coaps://127.0.0.1:${listener.port}/ps/lab/dev1/state`;
    const put = await coaps('dev1', ['-m', 'put', '-e', 'on', url]);
    expect(put.code).toBe(0);
    expect(put.stdout + put.stderr).not.toMatch(/4\.\d\d|5\.\d\d/);
    const get = await coaps('dev1', ['-m', 'get', url]);
    expect(get.stdout).toContain('on');
    const denied = await coaps('dev1', ['-m', 'post', '-e', 'x', `coaps://127.0.0.1:${listener.port}/ps/lab/other/state`]);
    expect(denied.stdout + denied.stderr).toContain('4.03');
  });

  it('an identity that resolves to no device gets 4.01', async () => {
    const r = await coaps('ghost', ['-m', 'get', `coaps://127.0.0.1:${listener.port}/ps/lab/ghost/x`]);
    expect(r.stdout + r.stderr).toContain('4.01');
  });
});

describe('listeners.coaps in the gateway: a registered device with its sealed PSK', () => {
  it('coap-client-openssl -u <device> -k <psk> publishes on its own topic and is refused elsewhere', async () => {
    const { addDevice } = await import('../unit/helpers/devices.ts');
    const { rotateDevicePsk } = await import('../../src/core/psk/device-psk.ts');
    const { openSecretBox } = await import('../../src/store/master-key.ts');
    const g = await startTestGateway({ listeners: { coaps: { enabled: true, host: '127.0.0.1', port: 0 } } });
    try {
      await addDevice(g, 'meter-1', 'lab');
      const psk = await rotateDevicePsk({ devices: g.gateway.store.devices, psks: g.gateway.store.devicePsks, secrets: openSecretBox(g.dataDir, g.config.secrets) }, 'meter-1');
      const port = g.gateway.listeners.coaps!.port;
      const run = (args: string[]) => runTool('coap-client-openssl', ['-u', 'meter-1', '-k', psk.toString(), ...args], { timeoutMs: 20_000 });
      const put = await run(['-m', 'put', '-e', '42', `coaps://127.0.0.1:${port}/ps/lab/meter-1/reading`]);
      expect(put.stdout + put.stderr).not.toMatch(/4\.\d\d|5\.\d\d/);
      expect(g.gateway.broker.retained('lab/meter-1/reading')?.payload.toString()).toBe('42');
      const denied = await run(['-m', 'put', '-e', '1', `coaps://127.0.0.1:${port}/ps/lab/meter-2/reading`]);
      expect(denied.stdout + denied.stderr).toContain('4.03');
    } finally {
      await g.stop();
    }
  });
});
