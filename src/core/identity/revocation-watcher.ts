/**
 * Notices revocations made by any process (the CLI, the admin API, another node) within a
 * fraction of a second, so live sessions authenticated with a revoked certificate can be closed
 * at once, not at their next handshake (issue 3, point 2).
 *
 * It polls the store's revoked set: cheap for the embedded SQLite store and correct across
 * processes; a networked store can push instead behind the same callback.
 */
import type { CertificateRecord, CertificateRepo } from '../ports.ts';

export class RevocationWatcher {
  readonly #repo: CertificateRepo;
  readonly #onRevoked: (records: CertificateRecord[]) => void;
  readonly #intervalMs: number;
  readonly #known = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(repo: CertificateRepo, onRevoked: (records: CertificateRecord[]) => void, intervalMs = 250) {
    this.#repo = repo;
    this.#onRevoked = onRevoked;
    this.#intervalMs = intervalMs;
  }

  get revoked(): ReadonlySet<string> {
    return this.#known;
  }

  /** Loads what is already revoked (without firing), then polls. */
  async start(): Promise<void> {
    for (const r of await this.#repo.listRevoked()) this.#known.add(r.serial);
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  /** One poll; exposed so a caller that just revoked can act without waiting. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const fresh = (await this.#repo.listRevoked()).filter((r) => !this.#known.has(r.serial));
      for (const r of fresh) this.#known.add(r.serial);
      if (fresh.length > 0) this.#onRevoked(fresh);
    } catch {
      // The next poll retries; a store hiccup must not stop the watcher.
    } finally {
      this.#polling = false;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
