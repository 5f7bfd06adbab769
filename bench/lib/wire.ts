/**
 * MQTT 3.1.1 wire helpers for the load generator. Control packets (CONNECT, SUBSCRIBE, ...) are
 * built with mqtt-packet's `generate`; the hot path (PUBLISH in, PUBACK out) uses a framing scanner
 * that allocates nothing per packet, so the generator stays far cheaper per message than a broker.
 */
import { generate, type QoS } from 'mqtt-packet';

export const PUBLISH = 3;
export const PUBACK = 4;

/** Called once per complete frame: packet type, header flags, the body's bounds in `buf`, where the frame starts. */
export type FrameHandler = (type: number, flags: number, buf: Buffer, start: number, end: number, frameStart: number) => void;

/** Splits a byte stream into MQTT frames without decoding them. */
export class FrameScanner {
  private pending: Buffer | null = null;
  private readonly onFrame: FrameHandler;

  constructor(onFrame: FrameHandler) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const n = buf.length;
    let off = 0;
    while (n - off >= 2) {
      let len = 0;
      let mult = 1;
      let i = off + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const b = buf[i++]!;
        len += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - off > 4) throw new Error('malformed remaining length');
        break;
      }
      if (i + len > n) break;
      const b0 = buf[off]!;
      this.onFrame(b0 >> 4, b0 & 0x0f, buf, i, i + len, off);
      off = i + len;
    }
    if (off < n) this.pending = Buffer.from(buf.subarray(off));
  }
}

/** Offset of the payload of a v3.1.1 PUBLISH whose body starts at `start`. */
export function publishPayloadOffset(buf: Buffer, flags: number, start: number): number {
  const topicLen = buf.readUInt16BE(start);
  return start + 2 + topicLen + (((flags >> 1) & 3) > 0 ? 2 : 0);
}

/** Packet id of a QoS 1/2 v3.1.1 PUBLISH whose body starts at `start`. */
export function publishPacketId(buf: Buffer, start: number): number {
  return buf.readUInt16BE(start + 2 + buf.readUInt16BE(start));
}

/** Credentials for brokers that authenticate (bench/pipeline-onoff.ts); absent: an anonymous CONNECT. */
export interface Credentials {
  username?: string;
  password?: string;
}

export function connectPacket(clientId: string, keepalive: number, cred: Credentials = {}): Buffer {
  const auth = cred.username === undefined ? {} : { username: cred.username, password: cred.password === undefined ? undefined : Buffer.from(cred.password) };
  return generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive, ...auth });
}

export function subscribePacket(filter: string, qos: QoS, messageId = 1): Buffer {
  return generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] });
}

export const DISCONNECT = generate({ cmd: 'disconnect' });

export function pubackPacket(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

/**
 * A PUBLISH laid out once and stamped many times: `fill` copies it `count` times into one buffer
 * and, for QoS 1, writes each copy's packet id, so a batch costs one allocation and one write.
 */
export class PublishTemplate {
  readonly bytes: Buffer;
  readonly idOffset: number;
  readonly payloadOffset: number;

  constructor(topic: string, qos: QoS, payloadSize: number) {
    this.bytes = generate({ cmd: 'publish', topic, qos, dup: false, retain: false, messageId: qos > 0 ? 1 : undefined, payload: Buffer.alloc(payloadSize, 0x61) });
    const bodyStart = this.bytes.length - (2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + payloadSize);
    this.idOffset = qos > 0 ? bodyStart + 2 + Buffer.byteLength(topic) : -1;
    this.payloadOffset = this.bytes.length - payloadSize;
  }

  /**
   * `count` copies in one buffer; `stamp` may write per-copy fields (packet id at
   * `base + idOffset`, payload at `base + payloadOffset`).
   */
  fill(count: number, stamp?: (out: Buffer, base: number, i: number) => void): Buffer {
    const len = this.bytes.length;
    const out = Buffer.allocUnsafe(len * count);
    for (let i = 0; i < count; i++) {
      this.bytes.copy(out, i * len);
      if (stamp !== undefined) stamp(out, i * len, i);
    }
    return out;
  }
}

/**
 * Flow payload: every benchmark PUBLISH carries [seq u32][publisher index u16] at the start of
 * its payload, so subscribers can tell publishers how far each one's stream has got through.
 */
export const FLOW_HEADER_BYTES = 6;
