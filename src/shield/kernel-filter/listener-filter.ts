/**
 * Keeps the kernel-side ban filter (bpf.ts) of every TCP listener in step with the ban list:
 * compiled again whenever the set of active address bans changes (a ban added here or by
 * another process, removed, or expired). The user-space check at accept stays in place, so a
 * missing addon, a platform without SO_ATTACH_FILTER or a ban past the instruction limit only
 * makes refusals cost more, never lets a banned address in.
 */
import type { Server } from 'node:net';
import { loadNativeAddon, nativeAddonPath } from '../../native-addon.ts';
import type { BanList } from '../bans/types.ts';
import { compileBanFilter, type CompiledFilter } from './bpf.ts';

interface SockFilterAddon {
  attach(fd: number, program: Uint8Array): void;
  detach(fd: number): void;
}

/** The addon, or null when it is not built here. */
export function loadSockFilterAddon(): SockFilterAddon | null {
  return loadNativeAddon<SockFilterAddon>(nativeAddonPath('sock-filter', 'sock_filter'));
}

/** The file descriptor under a listening net.Server (Linux libuv TCP handles expose it). */
export function listeningFd(server: Server): number | null {
  const handle = (server as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

export interface KernelBanFilterOptions {
  bans: BanList;
  /** How often expiry is checked (bans that lapse emit nothing). */
  checkMs?: number;
  onError?: (err: unknown) => void;
  /** Told after each recompile, e.g. for a log line. */
  onCompiled?: (filter: CompiledFilter, listeners: number) => void;
}

export class KernelBanFilter {
  readonly #opts: KernelBanFilterOptions;
  readonly #servers = new Set<Server>();
  readonly #addon: SockFilterAddon | null;
  #signature = '';
  #current: CompiledFilter = compileBanFilter([]);
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(opts: KernelBanFilterOptions) {
    this.#opts = opts;
    this.#addon = loadSockFilterAddon();
  }

  /** False when the addon is not built: bans are then refused at accept only. */
  get available(): boolean {
    return this.#addon !== null;
  }

  get current(): CompiledFilter {
    return this.#current;
  }

  start(): void {
    if (!this.#addon || this.#timer) return;
    this.#unsubscribe = this.#opts.bans.onBan((ban) => {
      if (ban.kind === 'address') this.refresh();
    });
    this.#timer = setInterval(() => this.refresh(), this.#opts.checkMs ?? 1000);
    this.#timer.unref();
    this.refresh();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /** Filters this listener from now on (call once it is listening). False when it cannot. */
  attach(server: Server): boolean {
    const fd = listeningFd(server);
    if (!this.#addon || fd === null) return false;
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    return this.#load(server, this.#current);
  }

  /** Recompiles when the active address bans changed since the last compile. */
  refresh(): void {
    const addresses = this.#opts.bans
      .list()
      .filter((b) => b.kind === 'address')
      .map((b) => b.value)
      .sort();
    const signature = addresses.join(',');
    if (signature === this.#signature) return;
    this.#signature = signature;
    this.#current = compileBanFilter(addresses);
    for (const s of this.#servers) this.#load(s, this.#current);
    this.#opts.onCompiled?.(this.#current, this.#servers.size);
  }

  #load(server: Server, filter: CompiledFilter): boolean {
    const fd = listeningFd(server);
    if (fd === null) return false;
    try {
      this.#addon!.attach(fd, filter.program);
      return true;
    } catch (err) {
      this.#opts.onError?.(err);
      return false;
    }
  }
}
