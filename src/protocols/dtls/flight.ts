/**
 * Flight retransmission (RFC 6347 §4.2.4): a flight is resent when its timer fires, starting at
 * 1 s and doubling up to 60 s, and given up after a bounded number of tries; it is also resent
 * at once when the peer retransmits its previous flight (our flight was lost). The last flight
 * of the handshake has no timer: it is resent only in answer to a retransmission (§4.2.4).
 * Records are re-encoded on every send because each transmission needs a fresh record
 * sequence number (§4.1).
 */
export interface FlightTimerOptions {
  initialMs?: number;
  maxMs?: number;
  maxTries?: number;
}

export class FlightTimer {
  readonly #send: () => void;
  readonly #onGiveUp: () => void;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #maxTries: number;
  #timer: NodeJS.Timeout | null = null;
  #timeoutMs = 0;
  #tries = 0;
  #lastSend = 0;

  constructor(send: () => void, onGiveUp: () => void, opts: FlightTimerOptions = {}) {
    this.#send = send;
    this.#onGiveUp = onGiveUp;
    this.#initialMs = opts.initialMs ?? 1000;
    this.#maxMs = opts.maxMs ?? 60_000;
    this.#maxTries = opts.maxTries ?? 6;
  }

  /** Sends now and arms the timer (withTimer=false for the final flight). */
  start(withTimer: boolean): void {
    this.stop();
    this.#tries = 0;
    this.#timeoutMs = this.#initialMs;
    this.#transmit();
    if (withTimer) this.#arm();
  }

  /** The peer retransmitted: resend, but not more than once per 250 ms so a replayed flight cannot amplify. */
  resendOnPeerRetransmit(): void {
    if (Date.now() - this.#lastSend < 250) return;
    this.#transmit();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #transmit(): void {
    this.#lastSend = Date.now();
    this.#send();
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#tries++;
      if (this.#tries > this.#maxTries) {
        this.#onGiveUp();
        return;
      }
      this.#transmit();
      this.#timeoutMs = Math.min(this.#timeoutMs * 2, this.#maxMs);
      this.#arm();
    }, this.#timeoutMs);
    this.#timer.unref();
  }
}
