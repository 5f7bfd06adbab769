/** The signed CRL, rebuilt when revocations change or it nears its nextUpdate. */
import type { Store } from '../ports.ts';
import { createCrl, type SignedCrl } from './crl.ts';
import type { CertificateAuthority } from './types.ts';

export class CrlCache {
  readonly #ca: CertificateAuthority;
  readonly #store: Store;
  #current: Promise<SignedCrl> | null = null;

  constructor(ca: CertificateAuthority, store: Store) {
    this.#ca = ca;
    this.#store = store;
  }

  invalidate(): void {
    this.#current = null;
  }

  async get(): Promise<Buffer> {
    const now = Date.now();
    if (this.#current) {
      const c = await this.#current.catch(() => null);
      // Re-sign well before nextUpdate so a fetched CRL is never stale.
      if (c && c.nextUpdate - now > (c.nextUpdate - c.thisUpdate) / 2) return c.der;
    }
    this.#current = this.#build();
    return (await this.#current).der;
  }

  async #build(): Promise<SignedCrl> {
    const revoked = await this.#store.certificates.listRevoked();
    return createCrl(this.#ca, revoked.filter((r) => r.kind === 'device' || r.kind === 'server').map((r) => ({ serial: r.serial, revokedAt: r.revokedAt ?? Date.now(), reason: r.revocationReason })));
  }
}
