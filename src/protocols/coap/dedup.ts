/**
 * De-duplication of incoming messages by (peer, message id) over EXCHANGE_LIFETIME
 * (RFC 7252 §4.5): a duplicate CON gets the same response again, not a second execution.
 *
 * Kept per peer, each peer holding at most `maxPerPeer` recent exchanges (oldest dropped first),
 * and at most `maxPeers` peers: a peer flooding new message ids only evicts its own entries, never
 * another peer's, and the memory (and garbage-collector work) stays small. A well-behaved client
 * (NSTART 1, RFC 7252 §4.7) has one exchange in flight, so its duplicates are always found.
 */
export interface DedupEntry {
  readonly messageId: number;
  expiresAt: number;
  /** The encoded response to replay; null while the request is still being processed. */
  response: Buffer | null;
}

export class DedupCache {
  readonly #peers = new Map<string, Map<number, DedupEntry>>();
  readonly #maxPerPeer: number;
  readonly #maxPeers: number;
  #size = 0;

  constructor(maxPerPeer: number, maxPeers = 100_000) {
    this.#maxPerPeer = maxPerPeer;
    this.#maxPeers = maxPeers;
  }

  get size(): number {
    return this.#size;
  }

  get(peerKey: string, messageId: number, now: number): DedupEntry | undefined {
    const m = this.#peers.get(peerKey);
    const e = m?.get(messageId);
    if (m && e && e.expiresAt <= now) {
      m.delete(messageId);
      this.#size--;
      return undefined;
    }
    return e;
  }

  add(peerKey: string, messageId: number, lifetimeMs: number, now: number): DedupEntry {
    let m = this.#peers.get(peerKey);
    if (!m) {
      if (this.#peers.size >= this.#maxPeers) this.#dropOldestPeer();
      m = new Map();
      this.#peers.set(peerKey, m);
    }
    if (m.delete(messageId)) this.#size--;
    // Insertion order is expiry order for one lifetime: expired and over-cap entries leave from the front.
    for (const old of m.values()) {
      if (old.expiresAt > now && m.size < this.#maxPerPeer) break;
      m.delete(old.messageId);
      this.#size--;
    }
    const e: DedupEntry = { messageId, expiresAt: now + lifetimeMs, response: null };
    m.set(messageId, e);
    this.#size++;
    return e;
  }

  /** Forget a peer (its DTLS session ended). */
  dropPeer(peerKey: string): void {
    const m = this.#peers.get(peerKey);
    if (!m) return;
    this.#size -= m.size;
    this.#peers.delete(peerKey);
  }

  clear(): void {
    this.#peers.clear();
    this.#size = 0;
  }

  #dropOldestPeer(): void {
    const oldest = this.#peers.keys().next();
    if (oldest.done !== true) this.dropPeer(oldest.value);
  }
}
