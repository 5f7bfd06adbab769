/**
 * Stateless cookies for HelloVerifyRequest (RFC 6347 §4.2.1). The cookie is an HMAC over the
 * client's address and the ClientHello fields the client must repeat, under a secret that
 * rotates; the previous secret is still accepted so a rotation between the two ClientHellos
 * does not fail a legitimate peer. Nothing is stored per client until a cookie verifies, so a
 * flood of ClientHellos from spoofed addresses costs one HMAC each and allocates no state.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_LENGTH = 20;

export class CookieJar {
  #current = randomBytes(32);
  #previous = randomBytes(32);
  #rotatedAt: number;
  readonly #rotateMs: number;
  readonly #now: () => number;

  constructor(opts: { rotateMs?: number; now?: () => number } = {}) {
    this.#rotateMs = opts.rotateMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
    this.#rotatedAt = this.#now();
  }

  #maybeRotate(): void {
    if (this.#now() - this.#rotatedAt < this.#rotateMs) return;
    this.#previous = this.#current;
    this.#current = randomBytes(32);
    this.#rotatedAt = this.#now();
  }

  #mac(secret: Buffer, address: string, port: number, helloFields: Buffer): Buffer {
    return createHmac('sha256', secret).update(`${address}\0${port}\0`).update(helloFields).digest().subarray(0, COOKIE_LENGTH);
  }

  /** helloFields: the ClientHello body without the cookie (version, random, session id, suites, compression, extensions). */
  issue(address: string, port: number, helloFields: Buffer): Buffer {
    this.#maybeRotate();
    return this.#mac(this.#current, address, port, helloFields);
  }

  verify(address: string, port: number, helloFields: Buffer, cookie: Buffer): boolean {
    this.#maybeRotate();
    if (cookie.length !== COOKIE_LENGTH) return false;
    return timingSafeEqual(cookie, this.#mac(this.#current, address, port, helloFields)) || timingSafeEqual(cookie, this.#mac(this.#previous, address, port, helloFields));
  }
}
