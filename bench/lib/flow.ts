/**
 * End-to-end flow window shared by publisher and subscriber workers (one SharedArrayBuffer).
 * Subscriber s records, per publisher p, one past the highest sequence number it has received
 * (`progress[s][p]`); publisher p keeps at most `window` messages beyond the slowest subscriber's
 * progress. Messages a broker drops are skipped over by later ones, and the broker's queues stay
 * bounded (no unbounded backlog in socket buffers). Each subscriber also publishes its running
 * total so a publisher can tell "my window's tail was dropped" from "the broker is just slow".
 */
export class FlowTable {
  readonly buffer: SharedArrayBuffer;
  readonly publishers: number;
  readonly subscribers: number;
  private readonly progress: Int32Array;
  private readonly received: Int32Array;

  constructor(publishers: number, subscribers: number, buffer?: SharedArrayBuffer) {
    this.publishers = publishers;
    this.subscribers = subscribers;
    this.buffer = buffer ?? new SharedArrayBuffer(4 * (publishers * subscribers + subscribers + 1));
    this.progress = new Int32Array(this.buffer, 0, publishers * subscribers);
    this.received = new Int32Array(this.buffer, 4 * publishers * subscribers, subscribers);
  }

  /** Subscriber `s` has received message `seq` of publisher `p`. */
  record(s: number, p: number, seq: number): void {
    const i = s * this.publishers + p;
    if (seq >= this.progress[i]!) this.progress[i] = seq + 1;
    this.received[s]!++;
  }

  /** Messages received by the subscriber that has received the fewest. */
  minReceived(): number {
    let min = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.subscribers; s++) min = Math.min(min, this.received[s]!);
    return min;
  }

  /** Messages of publisher `p` that every subscriber has received or skipped over. */
  settled(p: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.subscribers; s++) {
      const v = this.progress[s * this.publishers + p]!;
      if (v < min) min = v;
    }
    return this.subscribers === 0 ? Number.POSITIVE_INFINITY : min;
  }
}
