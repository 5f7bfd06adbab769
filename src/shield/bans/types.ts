/**
 * The ban list as the rest of the shield sees it (issue 5, point 1). The gateway holds one
 * `BanList` (src/shield/bans/ban-list.ts) backed by the store; other shield parts (flapping
 * detection, anomaly mitigation) ban through `add` and never touch the store directly.
 *
 *   const ban = await banList.add({ kind: 'client-id', value: 'dev-7', reason: 'anomaly: flood',
 *                                   expiresAt: Date.now() + 600_000, by: 'anomaly' });
 *
 * A ban added here takes effect at once in this process (connections already open with a
 * banned key are closed, see onBan) and within ~1 s in other gateways on the same store.
 */
import type { BanInput, BanRecord } from '../../core/bans/types.ts';

export type { BanInput, BanKind, BanRecord } from '../../core/bans/types.ts';

/** What is known of a connection at the moment a check runs; absent keys are not checked. */
export interface BanKeys {
  address?: string;
  clientId?: string | null;
  username?: string | null;
  /** Lower-case hex serial, no separators. */
  certSerial?: string | null;
  /** Lower-case hex SHA-256 of the certificate DER. */
  certFingerprint?: string | null;
}

export interface BanList {
  /** Stores the ban (value normalised, CIDR validated) and applies it here at once. */
  add(input: BanInput): Promise<BanRecord>;
  remove(id: number): Promise<boolean>;
  /** The first active ban matching any of the keys, or null. Synchronous: an in-memory lookup. */
  match(keys: BanKeys, now?: number): BanRecord | null;
  /** Active bans, by id. */
  list(now?: number): BanRecord[];
  /** Called for each ban added (here or seen from the store), e.g. to close open connections. */
  onBan(listener: (ban: BanRecord) => void): () => void;
}

