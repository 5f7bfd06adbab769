/**
 * Handshake fragment reassembly (RFC 6347 §4.2.3) with bounds: messages are delivered in
 * message_seq order; fragments may arrive out of order, overlap or repeat. Only a few messages
 * ahead are buffered, each no larger than MAX_HANDSHAKE_MESSAGE, and a fragment whose length
 * disagrees with an earlier one for the same message is refused, so a peer cannot make the
 * server hold more than about maxAhead * MAX_HANDSHAKE_MESSAGE bytes.
 */
import { HANDSHAKE_HEADER, MAX_HANDSHAKE_MESSAGE, type HandshakeFragment } from './handshake-codec.ts';

export interface ReassembledMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

interface Pending {
  msgType: number;
  body: Buffer;
  have: Uint8Array;
  missing: number;
}

export type FragmentVerdict = 'accepted' | 'old' | 'too-far' | 'invalid';

export class Reassembler {
  #next: number;
  readonly #maxAhead: number;
  readonly #maxMessage: number;
  readonly #pending = new Map<number, Pending>();

  constructor(opts: { nextSeq: number; maxAhead?: number; maxMessage?: number }) {
    this.#next = opts.nextSeq;
    this.#maxAhead = opts.maxAhead ?? 4;
    this.#maxMessage = opts.maxMessage ?? MAX_HANDSHAKE_MESSAGE;
  }

  get nextSeq(): number {
    return this.#next;
  }

  /** 'old' means a retransmission of a message already delivered: the caller may resend its last flight (§4.2.4). */
  add(fragment: HandshakeFragment): FragmentVerdict {
    if (fragment.messageSeq < this.#next) return 'old';
    if (fragment.messageSeq >= this.#next + this.#maxAhead) return 'too-far';
    if (fragment.length > this.#maxMessage) return 'invalid';
    let pending = this.#pending.get(fragment.messageSeq);
    if (pending === undefined) {
      pending = { msgType: fragment.msgType, body: Buffer.alloc(fragment.length), have: new Uint8Array(fragment.length), missing: fragment.length };
      this.#pending.set(fragment.messageSeq, pending);
    } else if (pending.body.length !== fragment.length || pending.msgType !== fragment.msgType) {
      return 'invalid';
    }
    const end = fragment.fragmentOffset + fragment.body.length;
    if (end > pending.body.length) return 'invalid';
    fragment.body.copy(pending.body, fragment.fragmentOffset);
    for (let i = fragment.fragmentOffset; i < end; i++) {
      if (pending.have[i] === 0) {
        pending.have[i] = 1;
        pending.missing--;
      }
    }
    return 'accepted';
  }

  /** The next complete message in order, if any. */
  take(): ReassembledMessage | null {
    const pending = this.#pending.get(this.#next);
    if (pending === undefined || pending.missing > 0) return null;
    this.#pending.delete(this.#next);
    const message = { msgType: pending.msgType, messageSeq: this.#next, body: pending.body };
    this.#next++;
    return message;
  }

  /** Bytes buffered right now, for tests of the bound. */
  get bufferedBytes(): number {
    let total = 0;
    for (const p of this.#pending.values()) total += p.body.length + p.have.length + HANDSHAKE_HEADER;
    return total;
  }
}
