/**
 * EXPERIMENT, not part of the comparison: a preload (`node --import`) that gives mqtt-packet a
 * direct decoder for MQTT 3.1.1 PUBLISH and PUBACK frames and a literal PUBACK encoder, leaving
 * every other packet (and all of MQTT 5) to mqtt-packet. It measures how much of a Node broker's
 * per-message CPU the generic streaming parser costs, without changing the broker's source:
 *
 *   node bench/run.ts --only fanin --brokers palisade --palisade-import bench/experiments/fast-decode.ts
 *
 * It relies on the broker handing the parser one whole frame at a time (Palisade frames first)
 * and applies the same checks mqtt-packet does for these packets (QoS 3, truncated topic or id,
 * PUBACK length).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { IPacket, IPublishPacket, IPubackPacket, Packet, Parser } from 'mqtt-packet';

interface MqttPacketModule {
  parser: (opts?: object) => Parser;
  generate: (packet: Packet, opts?: { protocolVersion?: number }) => Buffer;
}

interface InnerParser extends Parser {
  settings: { protocolVersion?: number };
}

const mqttPacket = createRequire(import.meta.url)('mqtt-packet') as MqttPacketModule;
const originalParser = mqttPacket.parser;
const originalGenerate = mqttPacket.generate;

class FastParser extends EventEmitter {
  private readonly inner: InnerParser;

  constructor(inner: InnerParser) {
    super();
    this.inner = inner;
    inner.on('packet', (p: Packet) => this.emit('packet', p));
    inner.on('error', (e: Error) => this.emit('error', e));
  }

  parse(frame: Buffer): number {
    const v = this.inner.settings.protocolVersion;
    if ((v === 3 || v === 4) && frame.length >= 2) {
      const type = frame[0]! >> 4;
      if (type === 3 || type === 4) {
        const p = type === 3 ? decodePublish(frame) : decodePuback(frame);
        if (p instanceof Error) this.emit('error', p);
        else this.emit('packet', p);
        return 0;
      }
    }
    return this.inner.parse(frame);
  }
}

/** Body offset and remaining length of a whole frame. */
function header(f: Buffer): [number, number] {
  let pos = 1;
  let len = 0;
  let mult = 1;
  for (;;) {
    const b = f[pos++]!;
    len += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return [pos, len];
    mult *= 128;
  }
}

function decodePublish(f: Buffer): IPublishPacket | Error {
  const b0 = f[0]!;
  const qos = (b0 >> 1) & 3;
  if (qos === 3) return new Error('Packet must not have both QoS bits set to 1');
  const [start, length] = header(f);
  const end = start + length;
  if (start + 2 > end) return new Error('Cannot parse topic');
  const topicLen = f.readUInt16BE(start);
  let pos = start + 2 + topicLen;
  if (pos > end) return new Error('Cannot parse topic');
  const topic = f.toString('utf8', start + 2, pos);
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return new Error('Cannot parse messageId');
    messageId = f.readUInt16BE(pos);
    pos += 2;
  }
  const p: IPublishPacket & IPacket = { cmd: 'publish', retain: (b0 & 1) !== 0, qos: qos as 0 | 1 | 2, dup: (b0 & 8) !== 0, length, topic, payload: f.subarray(pos, end) };
  if (messageId !== undefined) p.messageId = messageId;
  return p;
}

function decodePuback(f: Buffer): IPubackPacket | Error {
  if (f[0] !== 0x40) return new Error('Invalid header flag bits, must be 0x0 for puback packet');
  const [start, length] = header(f);
  if (length !== 2) return new Error('Malformed puback, payload length must be 2');
  return { cmd: 'puback', messageId: f.readUInt16BE(start), length };
}

mqttPacket.parser = (opts?: object) => new FastParser(originalParser(opts) as InnerParser);
mqttPacket.generate = (packet: Packet, opts?: { protocolVersion?: number }) => {
  if (packet.cmd === 'puback' && opts?.protocolVersion !== 5 && packet.messageId !== undefined) {
    return Buffer.from([0x40, 0x02, packet.messageId >> 8, packet.messageId & 0xff]);
  }
  return originalGenerate(packet, opts);
};
