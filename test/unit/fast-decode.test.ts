import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { decodeFast, encodePuback } from '../../src/protocols/mqtt/fast-decode.ts';

function viaMqttPacket(frame: Buffer): Packet | Error {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let out: Packet | Error = new Error('no packet');
  parser.on('packet', (p: Packet) => (out = p));
  parser.on('error', (e: Error) => (out = e));
  parser.parse(frame);
  return out;
}

describe('3.1.1 fast path decoder', () => {
  it('decodes PUBLISH exactly as mqtt-packet does (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0, 1, 2), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 65535 }), (topic, payload, qos, retain, dup, id) => {
        const frame = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: qos, retain, dup, ...(qos > 0 ? { messageId: id } : {}) }, { protocolVersion: 4 });
        const fast = decodeFast(frame, 4);
        const ref = viaMqttPacket(frame) as Packet & { cmd: 'publish' };
        expect(fast).not.toBeInstanceOf(Error);
        const p = fast as Packet & { cmd: 'publish' };
        expect({ topic: p.topic, qos: p.qos, retain: p.retain, dup: p.dup, messageId: p.messageId, payload: Buffer.from(p.payload) }).toEqual({ topic: ref.topic, qos: ref.qos, retain: ref.retain, dup: ref.dup, messageId: ref.messageId, payload: Buffer.from(ref.payload) });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what mqtt-packet refuses: QoS 3, truncated topic or id, bad PUBACK', () => {
    expect(decodeFast(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]), 4)).toBeInstanceOf(Error);
    expect(decodeFast(Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61]), 4)).toBeInstanceOf(Error);
    expect(decodeFast(Buffer.from([0x32, 0x03, 0x00, 0x01, 0x61]), 4)).toBeInstanceOf(Error);
    expect(decodeFast(Buffer.from([0x41, 0x02, 0x00, 0x01]), 4)).toBeInstanceOf(Error);
    expect(decodeFast(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]), 4)).toBeInstanceOf(Error);
  });

  it('leaves MQTT 5 and other packet types to mqtt-packet, and encodes PUBACK byte for byte', () => {
    expect(decodeFast(Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61]), 5)).toBeNull();
    expect(decodeFast(Buffer.from([0xc0, 0x00]), 4)).toBeNull();
    expect(encodePuback(0x1234)).toEqual(mqttPacket.generate({ cmd: 'puback', messageId: 0x1234 }, { protocolVersion: 4 }));
  });
});
