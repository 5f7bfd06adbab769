/**
 * shield.admit (DESIGN.md §1): the first gate, decided on the remote address alone before any
 * parsing or cryptography. Caps concurrent connections overall and per address. Connection
 * rates, bans and flapping detection build on this in the shield issue.
 */
export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export type AdmissionVerdict = { admitted: true } | { admitted: false; reason: 'max-connections' | 'max-per-address' };

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #perAddress = new Map<string, number>();
  #total = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#total;
  }

  admit(address: string): AdmissionVerdict {
    if (this.#total >= this.#limits.maxConnections) return { admitted: false, reason: 'max-connections' };
    const n = this.#perAddress.get(address) ?? 0;
    if (n >= this.#limits.maxConnectionsPerAddress) return { admitted: false, reason: 'max-per-address' };
    this.#perAddress.set(address, n + 1);
    this.#total++;
    return { admitted: true };
  }

  release(address: string): void {
    const n = this.#perAddress.get(address);
    if (n === undefined) return;
    if (n <= 1) this.#perAddress.delete(address);
    else this.#perAddress.set(address, n - 1);
    this.#total--;
  }
}
