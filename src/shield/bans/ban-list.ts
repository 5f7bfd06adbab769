/**
 * The ban list held by a running gateway (issue 5, point 1): the store's bans indexed in memory
 * so every check is a synchronous lookup on the accept and CONNECT paths, reloaded when the
 * store's ban generation moves (a write by the CLI, the admin API or another gateway), polled
 * every `reloadMs`. Expiry is checked at match time, so an expired ban stops biting at once;
 * expired rows are pruned from the store now and then.
 */
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { BanRepo } from '../../core/bans/types.ts';
import { AddressIndex, normaliseAddressBan } from './address.ts';
import type { BanInput, BanKeys, BanList, BanRecord } from './types.ts';

const MAX_VALUE = 256;
const MAX_REASON = 512;
const PRUNE_EVERY_MS = 60_000;

/** Validates a ban and puts its value in stored form; throws INVALID_ARGUMENT. */
export function normaliseBan(input: BanInput): BanInput {
  const bad = (why: string): never => {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, why, { detail: { kind: input.kind } });
  };
  let value = typeof input.value === 'string' ? input.value.trim() : '';
  if (value === '' || value.length > MAX_VALUE) bad('ban value must be 1 to 256 characters');
  switch (input.kind) {
    case 'address': {
      const n = normaliseAddressBan(value);
      if (n === null) bad(`not an IPv4 or IPv6 address or CIDR block: ${value}`);
      value = n!;
      break;
    }
    case 'certificate':
      // Serial or SHA-256 fingerprint, as hex with or without separators (`AB:CD:..`).
      value = value.replace(/[\s:]/g, '').toLowerCase();
      if (!/^[0-9a-f]+$/.test(value)) bad('certificate ban must be a hex serial or SHA-256 fingerprint');
      value = value.length === 64 ? value : value.replace(/^0+(?=.)/, '');
      break;
    case 'client-id':
    case 'username':
      break;
    default:
      bad(`unknown ban kind: ${String(input.kind)}`);
  }
  if (input.expiresAt !== null && !Number.isSafeInteger(input.expiresAt)) bad('expiresAt must be an integer (epoch ms) or null');
  const reason = (input.reason ?? '').slice(0, MAX_REASON);
  return { kind: input.kind, value, reason, expiresAt: input.expiresAt, by: input.by };
}

function active(ban: BanRecord, now: number): boolean {
  return ban.expiresAt === null || ban.expiresAt > now;
}

function stripSerial(serial: string): string {
  const s = serial.replace(/[\s:]/g, '').toLowerCase();
  return s.replace(/^0+(?=.)/, '');
}

export interface StoreBanListOptions {
  /** How often the store's generation is polled; changes by other processes show within this. */
  reloadMs?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class StoreBanList implements BanList {
  readonly #repo: BanRepo;
  readonly #now: () => number;
  readonly #reloadMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #listeners = new Set<(ban: BanRecord) => void>();
  #bans: BanRecord[] = [];
  #address = new AddressIndex<BanRecord>();
  #keyed = new Map<string, BanRecord[]>();
  #generation = -1;
  #lastPrune = 0;
  #timer: NodeJS.Timeout | null = null;
  #reloading: Promise<void> | null = null;

  constructor(repo: BanRepo, opts: StoreBanListOptions = {}) {
    this.#repo = repo;
    this.#now = opts.now ?? Date.now;
    this.#reloadMs = opts.reloadMs ?? 500;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Loads the bans and starts polling. */
  async start(): Promise<void> {
    this.#lastPrune = this.#now();
    await this.reload();
    this.#timer = setInterval(() => {
      this.reload().catch(this.#onError);
    }, this.#reloadMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Re-reads the list when the store's generation moved (or when forced). */
  reload(force = false): Promise<void> {
    // One reload at a time; a forced one waits for the running one and then runs.
    const run = async (): Promise<void> => {
      const now = this.#now();
      if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
        this.#lastPrune = now;
        await this.#repo.pruneExpired(now);
      }
      const generation = await this.#repo.generation();
      if (!force && generation === this.#generation) return;
      const bans = await this.#repo.list(now);
      const first = this.#generation < 0;
      const known = new Set(this.#bans.map((b) => b.id));
      this.#generation = generation;
      this.#index(bans);
      if (first) return;
      for (const b of bans) if (!known.has(b.id)) this.#emit(b);
    };
    const previous = this.#reloading ?? Promise.resolve();
    const next = previous.then(run, run).finally(() => {
      if (this.#reloading === next) this.#reloading = null;
    });
    this.#reloading = next;
    return next;
  }

  async add(input: BanInput): Promise<BanRecord> {
    const ban = await this.#repo.add({ ...normaliseBan(input), createdAt: this.#now() });
    await this.reload(true);
    return ban;
  }

  async remove(id: number): Promise<boolean> {
    const removed = await this.#repo.remove(id);
    if (removed) await this.reload(true);
    return removed;
  }

  match(keys: BanKeys, now: number = this.#now()): BanRecord | null {
    if (this.#bans.length === 0) return null;
    const live = (b: BanRecord): boolean => active(b, now);
    if (keys.address !== undefined) {
      const hit = this.#address.match(keys.address, live);
      if (hit) return hit;
    }
    const keyed = (kind: string, value: string | null | undefined): BanRecord | null => {
      if (value === null || value === undefined || value === '') return null;
      for (const b of this.#keyed.get(`${kind}\u0000${value}`) ?? []) if (live(b)) return b;
      return null;
    };
    return (
      keyed('client-id', keys.clientId) ??
      keyed('username', keys.username) ??
      (keys.certSerial ? keyed('certificate', stripSerial(keys.certSerial)) : null) ??
      (keys.certFingerprint ? keyed('certificate', keys.certFingerprint.replace(/:/g, '').toLowerCase()) : null)
    );
  }

  list(now: number = this.#now()): BanRecord[] {
    return this.#bans.filter((b) => active(b, now));
  }

  onBan(listener: (ban: BanRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #index(bans: BanRecord[]): void {
    const address = new AddressIndex<BanRecord>();
    const keyed = new Map<string, BanRecord[]>();
    for (const b of bans) {
      if (b.kind === 'address') {
        address.add(b.value, b);
        continue;
      }
      const k = `${b.kind}\u0000${b.value}`;
      const list = keyed.get(k);
      if (list) list.push(b);
      else keyed.set(k, [b]);
    }
    this.#bans = bans;
    this.#address = address;
    this.#keyed = keyed;
  }

  #emit(ban: BanRecord): void {
    for (const l of this.#listeners) {
      try {
        l(ban);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}
