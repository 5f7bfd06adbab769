/**
 * The ban list's records and store port (issue 5, point 1). A ban refuses one key: a source
 * address or CIDR block (IPv4 or IPv6), an MQTT client id, a username (device id), or a client
 * certificate (serial or SHA-256 fingerprint, lower-case hex). Bans are kept in the store so
 * they survive a restart and so a ban written by another process (the CLI) reaches a running
 * gateway: writers bump `generation()`, and the gateway reloads when it changes.
 */
export type BanKind = 'address' | 'client-id' | 'username' | 'certificate';

export const BAN_KINDS: readonly BanKind[] = ['address', 'client-id', 'username', 'certificate'];

export interface BanInput {
  kind: BanKind;
  /** Address bans: an address or CIDR (`10.0.0.0/8`, `2001:db8::/32`), stored normalised. */
  value: string;
  reason: string;
  /** Epoch ms; null for a permanent ban. */
  expiresAt: number | null;
  /** Who banned: an operator, `cli:<user>`, `flapping`, `anomaly`... */
  by: string;
}

export interface BanRecord extends BanInput {
  id: number;
  createdAt: number;
}

export interface BanRepo {
  add(input: BanInput & { createdAt: number }): Promise<BanRecord>;
  get(id: number): Promise<BanRecord | null>;
  /** Bans not expired at `now` (every ban when now is omitted), by id. */
  list(now?: number): Promise<BanRecord[]>;
  /** False when there was no such ban. */
  remove(id: number): Promise<boolean>;
  /** Deletes bans expired before `now`; returns how many went. */
  pruneExpired(now: number): Promise<number>;
  /** Grows with every add, remove and prune, whoever the writer; cheap to poll. */
  generation(): Promise<number>;
}
