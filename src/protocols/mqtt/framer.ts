/**
 * Splits a byte stream into whole MQTT control packets before any parsing, so the buffered
 * input of a connection is bounded by the maximum packet size: a client announcing a larger
 * Remaining Length is refused as soon as the fixed header is read (MQTT 5.0 §3.1.2.11.4,
 * [MQTT-3.2.2-15]), before its body arrives.
 */
export type FrameResult =
  | { kind: 'frame'; frame: Buffer }
  | { kind: 'need-more' }
  | { kind: 'too-large'; length: number }
  | { kind: 'malformed' };

export class Framer {
  readonly #maxPacketSize: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxPacketSize: number) {
    this.#maxPacketSize = maxPacketSize;
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Takes the next whole packet off the stream, if one is complete. */
  next(): FrameResult {
    if (this.#buffered < 2) return { kind: 'need-more' };
    let head = this.#chunks[0]!;
    if (head.length < 5 && this.#chunks.length > 1) head = this.#merge();
    // §1.5.5 Variable Byte Integer: at most 4 bytes, 7 bits each.
    let remaining = 0;
    let multiplier = 1;
    let pos = 1;
    for (;;) {
      if (pos >= head.length) return pos > 4 ? { kind: 'malformed' } : { kind: 'need-more' };
      const byte = head[pos]!;
      remaining += (byte & 0x7f) * multiplier;
      pos++;
      if ((byte & 0x80) === 0) break;
      if (pos > 4) return { kind: 'malformed' };
      multiplier *= 128;
    }
    const total = pos + remaining;
    if (total > this.#maxPacketSize) return { kind: 'too-large', length: total };
    if (this.#buffered < total) return { kind: 'need-more' };
    if (head.length < total) head = this.#merge();
    const frame = head.length === total ? head : head.subarray(0, total);
    if (head.length === total) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(total);
    this.#buffered -= total;
    return { kind: 'frame', frame };
  }

  #merge(): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [all];
    return all;
  }
}

/**
 * Where the variable header starts in a whole frame: after the first byte and the Remaining
 * Length (§1.5.5). Only for frames the Framer cut (or the encoder made), whose header is valid.
 */
export function bodyStart(frame: Buffer): number {
  let pos = 1;
  while ((frame[pos]! & 0x80) !== 0) pos++;
  return pos + 1;
}
