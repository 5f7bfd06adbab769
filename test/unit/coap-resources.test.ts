import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, firstOption, readUint, uintOption } from '../../src/protocols/coap/codec.ts';
import { blockOption, parseBlock } from '../../src/protocols/coap/block.ts';
import { Code, MessageType, Option } from '../../src/protocols/coap/constants.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { TestCoapClient } from './helpers/coap-client.ts';

let gw: TestGateway;
let noAnon: TestGateway;
let c: TestCoapClient;

beforeAll(async () => {
  gw = await startTestGateway({ listeners: { coap: { anonymous: { segment: 'lab' } } }, policy: { segments: { lab: { publish: ['lab/#'], subscribe: ['lab/#'] } } } });
  noAnon = await startTestGateway();
  c = await TestCoapClient.open(gw.port('coap'));
});
afterAll(async () => {
  c.close();
  await gw.stop();
  await noAnon.stop();
});

const eventTypes = async (g: TestGateway): Promise<string[]> => {
  await g.gateway.events.flush();
  return (await g.gateway.store.events.list({ limit: 1000 })).map((e) => e.type);
};

describe('CoAP resources over a real gateway', () => {
  it('plain UDP without an anonymous segment is 4.01, with a security event', async () => {
    const x = await TestCoapClient.open(noAnon.port('coap'));
    const r = await x.request(Code.GET, '/ps/lab/a');
    expect(r.code).toBe(Code.UNAUTHORIZED);
    x.close();
    expect(await eventTypes(noAnon)).toContain('coap.unauthenticated');
  });

  it('PUT retains, GET reads with Content-Format, DELETE clears (4.04 after)', async () => {
    const put = await c.request(Code.PUT, '/ps/lab/room1/temp', { payload: '{"t":21}', options: [{ number: Option.CONTENT_FORMAT, value: uintOption(50) }] });
    expect(put.code).toBe(Code.CHANGED);
    const get = await c.request(Code.GET, '/ps/lab/room1/temp');
    expect(get.code).toBe(Code.CONTENT);
    expect(get.payload.toString()).toBe('{"t":21}');
    expect(readUint(firstOption(get, Option.CONTENT_FORMAT)!)).toBe(50);
    expect(gw.gateway.broker.retainedCount).toBeGreaterThan(0);
    expect((await c.request(Code.DELETE, '/ps/lab/room1/temp')).code).toBe(Code.DELETED);
    expect((await c.request(Code.GET, '/ps/lab/room1/temp')).code).toBe(Code.NOT_FOUND);
  });

  it('publish outside the policy is 4.03 with the facade event; wildcards only for observe', async () => {
    expect((await c.request(Code.POST, '/ps/other/x', { payload: 'no' })).code).toBe(Code.FORBIDDEN);
    expect((await c.request(Code.POST, '/ps/lab/+/x', { payload: 'no' })).code).toBe(Code.BAD_REQUEST);
    expect((await c.request(Code.GET, '/nothing/here')).code).toBe(Code.NOT_FOUND);
    expect(await eventTypes(gw)).toContain('coap.publish_denied');
  });

  it('Observe: registration, notifications with increasing sequence numbers, POST from another peer and an MQTT-side publish, Observe=1 ends it', async () => {
    const token = Buffer.from('obs1');
    const reg = await c.request(Code.GET, '/ps/lab/+/events', { token, options: [{ number: Option.OBSERVE, value: uintOption(0) }] });
    expect(reg.code).toBe(Code.CONTENT);
    const first = readUint(firstOption(reg, Option.OBSERVE)!);
    const other = await TestCoapClient.open(gw.port('coap'));
    const n1 = c.wait((m) => m.token.equals(token));
    expect((await other.request(Code.POST, '/ps/lab/dev9/events', { payload: 'one' })).code).toBe(Code.CHANGED);
    const a = await n1;
    expect(a.payload.toString()).toBe('one');
    expect(a.type).toBe(MessageType.CON);
    const n2 = c.wait((m) => m.token.equals(token));
    gw.gateway.broker.publish({ topic: 'lab/mqtt-dev/events', payload: Buffer.from('two'), qos: 0, retain: false, properties: {}, expiresAt: null, origin: null });
    const b = await n2;
    expect(b.payload.toString()).toBe('two');
    const seqA = readUint(firstOption(a, Option.OBSERVE)!);
    const seqB = readUint(firstOption(b, Option.OBSERVE)!);
    expect(seqA).toBeGreaterThan(first);
    expect(seqB).toBeGreaterThan(seqA);
    // Deregister (RFC 7641 §3.6): a GET with Observe=1 and the same token.
    await c.request(Code.GET, '/ps/lab/+/events', { token, options: [{ number: Option.OBSERVE, value: uintOption(1) }] });
    const before = c.received.filter((m) => m.token.equals(token)).length;
    await other.request(Code.POST, '/ps/lab/dev9/events', { payload: 'three' });
    await sleep(100);
    expect(c.received.filter((m) => m.token.equals(token)).length).toBe(before);
    other.close();
  });

  it('an RST to a notification ends the observation (RFC 7641 §3.6)', async () => {
    const x = await TestCoapClient.open(gw.port('coap'));
    x.autoAck = false;
    const token = Buffer.from('rst1');
    await x.request(Code.GET, '/ps/lab/rst/topic', { token, options: [{ number: Option.OBSERVE, value: uintOption(0) }] });
    const n = x.wait((m) => m.token.equals(token));
    await c.request(Code.POST, '/ps/lab/rst/topic', { payload: 'x' });
    const note = await n;
    x.sendRaw(encode({ type: MessageType.RST, code: 0, messageId: note.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
    await sleep(50);
    const count = x.received.length;
    await c.request(Code.POST, '/ps/lab/rst/topic', { payload: 'y' });
    await sleep(100);
    expect(x.received.length).toBe(count);
    x.close();
  });

  it('Block1 PUT with a new token per block (the node-coap failure) then Block2 GET', async () => {
    const body = Buffer.alloc(5000);
    for (let i = 0; i < body.length; i++) body[i] = 97 + (i % 26);
    const szx = 2; // 64 bytes
    const blocks = Math.ceil(body.length / 64);
    let last;
    for (let num = 0; num < blocks; num++) {
      const more = num < blocks - 1;
      last = await c.request(Code.PUT, '/ps/lab/big', { payload: body.subarray(num * 64, num * 64 + 64), options: [{ number: Option.BLOCK1, value: blockOption({ num, more, szx }) }] });
      expect(last.code).toBe(more ? Code.CONTINUE : Code.CHANGED);
      expect(parseBlock(firstOption(last, Option.BLOCK1)!)).toEqual({ num, more, szx });
    }
    const parts: Buffer[] = [];
    for (let num = 0; ; num++) {
      const r = await c.request(Code.GET, '/ps/lab/big', { options: num === 0 ? [] : [{ number: Option.BLOCK2, value: blockOption({ num, more: false, szx: 6 }) }] });
      expect(r.code).toBe(Code.CONTENT);
      const b2 = parseBlock(firstOption(r, Option.BLOCK2)!)!;
      expect(b2.num).toBe(num);
      if (num === 0) expect(readUint(firstOption(r, Option.SIZE2)!)).toBe(5000);
      parts.push(r.payload);
      if (!b2.more) break;
    }
    expect(Buffer.concat(parts).equals(body)).toBe(true);
  });

  it('Block1 out of sequence is 4.08; a Size1 over the limit is 4.13 with Size1', async () => {
    const r = await c.request(Code.PUT, '/ps/lab/gap', { payload: Buffer.alloc(64), options: [{ number: Option.BLOCK1, value: blockOption({ num: 3, more: true, szx: 2 }) }] });
    expect(r.code).toBe(Code.REQUEST_ENTITY_INCOMPLETE);
    const big = await c.request(Code.PUT, '/ps/lab/huge', { payload: Buffer.alloc(64), options: [{ number: Option.BLOCK1, value: blockOption({ num: 0, more: true, szx: 2 }) }, { number: Option.SIZE1, value: uintOption(50_000_000) }] });
    expect(big.code).toBe(Code.REQUEST_ENTITY_TOO_LARGE);
    expect(readUint(firstOption(big, Option.SIZE1)!)).toBeGreaterThan(0);
  });

  it('/.well-known/core lists the pub-sub resource in link format', async () => {
    const r = await c.request(Code.GET, '/.well-known/core');
    expect(r.code).toBe(Code.CONTENT);
    expect(readUint(firstOption(r, Option.CONTENT_FORMAT)!)).toBe(40);
    expect(r.payload.toString()).toContain('</ps>');
  });

  it('malformed datagrams are RST or dropped, logged, and other peers keep being served', async () => {
    const bad = await TestCoapClient.open(gw.port('coap'));
    bad.sendRaw(Buffer.from('49010abc0102030405060708090a', 'hex')); // token length 9, CON
    const rst = await bad.wait((m) => m.type === MessageType.RST);
    expect(rst.messageId).toBe(0x0abc);
    for (let i = 0; i < 200; i++) bad.sendRaw(Buffer.from([0x40 | (i & 0x3f), 0x01, i, 0xf1, 0xff]));
    bad.sendRaw(Buffer.from('5f01', 'hex'));
    expect((await c.request(Code.GET, '/.well-known/core')).code).toBe(Code.CONTENT);
    const types = await eventTypes(gw);
    expect(types.filter((t) => t === 'coap.malformed').length).toBeGreaterThanOrEqual(1);
    // Rate-limited: not one event per datagram.
    expect(types.filter((t) => t === 'coap.malformed').length).toBeLessThan(20);
    bad.close();
  });
});
