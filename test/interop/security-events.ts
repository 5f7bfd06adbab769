/**
 * Reads a running gateway's security event log from the test process, through the store the
 * gateway writes (DATA_DIR/palisade.db, SQLite in WAL mode, so a second connection reads while
 * the gateway appends). Events are appended asynchronously after the decision that caused them,
 * so every read here is a bounded poll.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CertificateRecord, SecurityEvent } from '../../src/core/ports.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

export type EventMatch = (e: SecurityEvent) => boolean;

export class SecurityEvents {
  readonly #store: SqliteStore;

  private constructor(store: SqliteStore) {
    this.#store = store;
  }

  static async open(dataDir: string): Promise<SecurityEvents> {
    return new SecurityEvents(await openSqliteStore(join(dataDir, 'palisade.db')));
  }

  /** Id of the newest event: later waits look only after it, so one case cannot see another's events. */
  async mark(): Promise<number> {
    return (await this.#store.events.last())?.id ?? 0;
  }

  /** Events of `type` after `sinceId` that match. */
  async list(type: string, sinceId: number, match: EventMatch = () => true): Promise<SecurityEvent[]> {
    return (await this.#store.events.list({ type, sinceId, limit: 10_000 })).filter(match);
  }

  /** Waits until `n` events of `type` after `sinceId` match; rejects listing what was logged instead. */
  async waitFor(type: string, sinceId: number, match: EventMatch = () => true, timeoutMs = 5_000, n = 1): Promise<SecurityEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = await this.list(type, sinceId, match);
      if (hits.length >= n) return hits;
      if (Date.now() > deadline) {
        const seen = (await this.#store.events.list({ sinceId, limit: 50 })).map((e) => `${e.type} ${e.principal ?? '-'} ${JSON.stringify(e.detail)}`);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} ${type} event(s) after #${sinceId}; logged since:\n  ${seen.join('\n  ') || '(nothing)'}`);
      }
      await sleep(50);
    }
  }

  async certificate(serial: string): Promise<CertificateRecord | null> {
    return this.#store.certificates.get(serial);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
