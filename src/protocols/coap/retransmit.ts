/**
 * Reliable transmission of our own Confirmable messages (separate responses, Observe
 * notifications): RFC 7252 §4.2 — the first timeout is random in [ACK_TIMEOUT,
 * ACK_TIMEOUT * ACK_RANDOM_FACTOR], doubled after each of at most MAX_RETRANSMIT resends; an
 * ACK ends it, an RST or running out of attempts fails it.
 */
export interface TransmissionParams {
  ackTimeoutMs: number;
  ackRandomFactor: number;
  maxRetransmit: number;
}

interface Pending {
  datagram: Buffer;
  send: (d: Buffer) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
  attempts: number;
  done: (outcome: 'ack' | 'reset' | 'timeout' | 'cancelled') => void;
}

export class Retransmitter {
  readonly #pending = new Map<string, Pending>();
  readonly #params: TransmissionParams;
  readonly #random: () => number;

  constructor(params: TransmissionParams, random: () => number = Math.random) {
    this.#params = params;
    this.#random = random;
  }

  get size(): number {
    return this.#pending.size;
  }

  inFlight(peerKey: string): number {
    let n = 0;
    const prefix = `${peerKey}#`;
    for (const k of this.#pending.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  start(peerKey: string, messageId: number, datagram: Buffer, send: (d: Buffer) => void, done: Pending['done']): void {
    const key = `${peerKey}#${messageId}`;
    const p = this.#params;
    const timeoutMs = p.ackTimeoutMs * (1 + this.#random() * (p.ackRandomFactor - 1));
    const entry: Pending = { datagram, send, timeoutMs, attempts: 0, done, timer: setTimeout(() => this.#fire(key), timeoutMs) };
    entry.timer.unref();
    this.#pending.set(key, entry);
    send(datagram);
  }

  /** An ACK or RST for one of our CONs arrived; returns whether it matched. */
  settle(peerKey: string, messageId: number, outcome: 'ack' | 'reset'): boolean {
    const key = `${peerKey}#${messageId}`;
    const e = this.#pending.get(key);
    if (!e) return false;
    clearTimeout(e.timer);
    this.#pending.delete(key);
    e.done(outcome);
    return true;
  }

  cancelPeer(peerKey: string): void {
    const prefix = `${peerKey}#`;
    for (const [k, e] of this.#pending) {
      if (!k.startsWith(prefix)) continue;
      clearTimeout(e.timer);
      this.#pending.delete(k);
      e.done('cancelled');
    }
  }

  close(): void {
    for (const [k, e] of this.#pending) {
      clearTimeout(e.timer);
      this.#pending.delete(k);
      e.done('cancelled');
    }
  }

  #fire(key: string): void {
    const e = this.#pending.get(key);
    if (!e) return;
    if (e.attempts >= this.#params.maxRetransmit) {
      this.#pending.delete(key);
      e.done('timeout');
      return;
    }
    e.attempts++;
    e.timeoutMs *= 2;
    e.timer = setTimeout(() => this.#fire(key), e.timeoutMs);
    e.timer.unref();
    e.send(e.datagram);
  }
}
