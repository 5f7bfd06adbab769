/**
 * RFC 7641 §4.5: a confirmable notification the client never acknowledges is retransmitted
 * (RFC 7252 §4.2, exponential back-off) and, after MAX_RETRANSMIT resends, the observation is
 * ended — a client that went away does not keep a subscription alive. The transmission
 * parameters are shortened so the give-up happens in well under a second; the code path is the
 * one the gateway runs with the RFC's defaults.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceMessaging } from '../../src/core/messaging/device-messaging.ts';
import { policiesFromSegmentGrants, ZeroTrustPolicyEngine } from '../../src/core/policy/index.ts';
import { uintOption } from '../../src/protocols/coap/codec.ts';
import { Code, MessageType, Option } from '../../src/protocols/coap/constants.ts';
import { CoapServer, DEFAULT_COAP_LIMITS } from '../../src/protocols/coap/server.ts';
import { startCoapUdpListener } from '../../src/protocols/coap/udp-listener.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { TestCoapClient } from './helpers/coap-client.ts';

let gw: TestGateway;
let messaging: DeviceMessaging;
let listener: Awaited<ReturnType<typeof startCoapUdpListener>>;
let server: CoapServer;

beforeAll(async () => {
  gw = await startTestGateway();
  const policy = new ZeroTrustPolicyEngine(policiesFromSegmentGrants({ lab: { publish: ['lab/#'], subscribe: ['lab/#'] } }));
  const events = gw.gateway.events;
  messaging = new DeviceMessaging({ broker: gw.gateway.broker, policy, events, limits: { maxTopicLength: 1024, maxTopicLevels: 32, maxPayloadSize: 1 << 20, retainAvailable: true, maxSubscriptionsPerDevice: 16 } });
  server = new CoapServer({ messaging, policy, events, limits: DEFAULT_COAP_LIMITS, endpoint: { ackTimeoutMs: 40, ackRandomFactor: 1, maxRetransmit: 2 }, observe: { confirmEveryMs: 300 } });
  listener = await startCoapUdpListener(server, { name: 'coap-short-timers', host: '127.0.0.1', port: 0, anonymousSegment: 'lab', maxDatagramsPerSecond: 10_000, events });
});
afterAll(async () => {
  await listener.close();
  messaging.stop();
  await gw.stop();
});

const publish = (payload: string, topic = 'lab/gone/t'): void => gw.gateway.broker.publish({ topic, payload: Buffer.from(payload), qos: 0, retain: false, properties: {}, expiresAt: null, origin: null });

describe('a confirmable notification never acknowledged', () => {
  it('is resent MAX_RETRANSMIT times with back-off, then the observation ends', async () => {
    const x = await TestCoapClient.open(listener.port);
    const token = Buffer.from('gone');
    const reg = await x.request(Code.GET, '/ps/lab/gone/t', { token, options: [{ number: Option.OBSERVE, value: uintOption(0) }] });
    expect(reg.code).toBe(Code.CONTENT);
    expect(server.observations.size).toBe(1);
    x.autoAck = false;
    const first = x.wait((m) => m.token.equals(token));
    publish('one');
    const note = await first;
    expect(note.type).toBe(MessageType.CON);
    // 40 ms, then 80 ms: both resends arrive, carrying the same message id; then nothing more.
    await sleep(400);
    const copies = x.received.filter((m) => m.token.equals(token) && m.messageId === note.messageId);
    expect(copies).toHaveLength(3);
    expect(server.observations.size).toBe(0);
    const seen = x.received.length;
    publish('two');
    await sleep(300);
    expect(x.received.length).toBe(seen);
    x.close();
  });
});

describe('a non-confirmable observation', () => {
  it('gets NON notifications, and a CON one once the periodic interval has passed (RFC 7641 §4.5)', async () => {
    const x = await TestCoapClient.open(listener.port);
    const token = Buffer.from('non1');
    const reg = await x.request(Code.GET, '/ps/lab/non/t', { token, type: MessageType.NON, options: [{ number: Option.OBSERVE, value: uintOption(0) }] });
    expect(reg.code).toBe(Code.CONTENT);
    const next = async (payload: string): Promise<MessageType> => {
      const n = x.wait((m) => m.token.equals(token) && m.payload.toString() === payload);
      publish(payload, 'lab/non/t');
      return (await n).type;
    };
    expect(await next('a')).toBe(MessageType.NON);
    await sleep(350);
    // Past the interval: confirmable, and acknowledged by the client (autoAck) ...
    expect(await next('b')).toBe(MessageType.CON);
    await sleep(50);
    // ... which restarts the interval.
    expect(await next('c')).toBe(MessageType.NON);
    x.close();
  });
});
