/**
 * Loads the DNS firewall's block and allow lists (issue 6 point 2) from local files and
 * http(s) URLs, refreshes them on their `refreshSeconds`, and hands each finished list to the
 * filter (DnsFilterHandle.setList) whole. Parsing is core's (src/core/dns/lists); this module
 * is the I/O around it.
 *
 * - Text is parsed as it streams in, yielding to the event loop about every MiB, so a million-line
 *   refresh does not stall the DNS server, and only one copy of a list's text exists at a time.
 * - Bounds: `maxBytes` (64 MiB by default) per list and `fetchTimeoutMs` per download.
 * - URLs must be https; plain http is accepted only for a loopback host (127.0.0.0/8, ::1,
 *   localhost), where no network path can tamper with the list. A redirect must keep to the same
 *   rule. Conditional requests (ETag, Last-Modified) and a file's mtime and size skip unchanged
 *   lists.
 * - A failed load keeps the last good copy (or the empty list before the first success), logs,
 *   records the security event `dns.list_refresh_failed`, and retries after `retrySeconds`.
 * - Timers are unref()'d: a pending refresh never keeps the process alive.
 * Credentials in a URL (userinfo, query) never reach a log line or an event.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PalisadeError, ErrorCodes } from '../../core/errors.ts';
import type { EventContext } from '../../core/events/event-log.ts';
import type { Severity } from '../../core/ports.ts';
import { ListBuilder } from '../../core/dns/lists/builder.ts';
import type { CompiledList, ListKind, ListStats } from '../../core/dns/lists/builder.ts';
import type { ListFormat } from '../../core/dns/lists/parse-line.ts';
import { BUNDLED_THREAT_LIST } from '../../core/dns/filter.ts';

export interface ListSourceConfig {
  /** A file path (relative to `baseDir`), a file: URL, or an http(s) URL. */
  readonly source: string;
  readonly format: ListFormat;
  readonly kind: ListKind;
  /** 0 = load at start only (retried after a failure until one load succeeds). */
  readonly refreshSeconds: number;
}

export interface ListSourceEvents {
  record(type: string, severity: Severity, ctx?: EventContext): void;
}

export interface ListSourceLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ListSourcesOptions {
  readonly lists: Readonly<Record<string, ListSourceConfig>>;
  /** Receives each successfully loaded list (DnsFilterHandle.setList). */
  readonly onList: (name: string, list: CompiledList) => void;
  readonly events?: ListSourceEvents;
  readonly log?: ListSourceLog;
  /** Relative file paths resolve against this; default the working directory. */
  readonly baseDir?: string;
  readonly fetchTimeoutMs?: number;
  readonly maxBytes?: number;
  /** Delay before retrying a failed load; default 300 s (never more than refreshSeconds). */
  readonly retrySeconds?: number;
}

export interface ListStatus {
  readonly name: string;
  readonly kind: ListKind;
  /** The source with any credentials removed. */
  readonly source: string;
  /** ms since epoch of the last successful load (or unchanged check); null before any. */
  readonly loadedAt: number | null;
  readonly stats: ListStats | null;
  readonly lastError: string | null;
  readonly nextRefreshAt: number | null;
}

export type LoadOutcome = 'loaded' | 'unchanged' | 'failed';

export const DEFAULT_MAX_LIST_BYTES = 64 * 1024 * 1024;
const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_SECONDS = 300;
/** setTimeout's ceiling (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
const YIELD_EVERY_BYTES = 1024 * 1024;

/** data/dns/iot-threats.txt, loaded once at start like any file list. */
export const BUNDLED_THREAT_LIST_PATH = fileURLToPath(new URL('../../../data/dns/iot-threats.txt', import.meta.url));

/**
 * `dns.lists` plus the bundled threat list when `dns.bundledThreatList` is on. The name
 * `palisade-iot-threats` is reserved.
 */
export function withBundledThreatList(
  lists: Readonly<Record<string, ListSourceConfig>>,
  enabled: boolean,
): Record<string, ListSourceConfig> {
  if (Object.hasOwn(lists, BUNDLED_THREAT_LIST)) {
    throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `dns.lists: the name '${BUNDLED_THREAT_LIST}' is reserved for the bundled threat list (dns.bundledThreatList)`);
  }
  if (!enabled) return { ...lists };
  return { ...lists, [BUNDLED_THREAT_LIST]: { source: BUNDLED_THREAT_LIST_PATH, format: 'auto', kind: 'block', refreshSeconds: 0 } };
}

type Source =
  | { readonly type: 'file'; readonly path: string; readonly shown: string }
  | { readonly type: 'url'; readonly url: URL; readonly shown: string };

interface Entry {
  readonly name: string;
  readonly config: ListSourceConfig;
  readonly source: Source;
  loadedAt: number | null;
  stats: ListStats | null;
  lastError: string | null;
  nextRefreshAt: number | null;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<LoadOutcome> | null;
  /** Validators of the copy in force, to skip unchanged sources. */
  etag: string | null;
  lastModified: string | null;
  fileStamp: string | null;
}

/** Thrown inside a load; the message is one line and free of credentials. */
class LoadError extends Error {}

export class ListSources {
  readonly #entries = new Map<string, Entry>();
  readonly #options: ListSourcesOptions;
  readonly #abort = new AbortController();
  #closed = false;

  /** Throws PalisadeError CONFIG_INVALID for a source that is neither a file nor an allowed URL. */
  constructor(options: ListSourcesOptions) {
    this.#options = options;
    const baseDir = options.baseDir ?? process.cwd();
    for (const [name, config] of Object.entries(options.lists)) {
      this.#entries.set(name, {
        name, config, source: parseSource(name, config.source, baseDir),
        loadedAt: null, stats: null, lastError: null, nextRefreshAt: null, timer: null, inFlight: null,
        etag: null, lastModified: null, fileStamp: null,
      });
    }
  }

  /** Loads every list once, one at a time (bounding peak memory), then schedules refreshes. */
  async start(): Promise<void> {
    for (const entry of this.#entries.values()) {
      if (this.#closed) return;
      await this.#load(entry);
    }
  }

  /** Loads `name` now (joining a load already running). */
  refresh(name: string): Promise<LoadOutcome> {
    const entry = this.#entries.get(name);
    if (entry === undefined) return Promise.reject(new PalisadeError(ErrorCodes.NOT_FOUND, `DNS list '${name}' is not configured`));
    return this.#load(entry);
  }

  status(): ListStatus[] {
    return [...this.#entries.values()].map((e) => ({
      name: e.name, kind: e.config.kind, source: e.source.shown, loadedAt: e.loadedAt,
      stats: e.stats, lastError: e.lastError, nextRefreshAt: e.nextRefreshAt,
    }));
  }

  /** Stops timers and aborts downloads in flight; no list is handed over afterwards. */
  close(): void {
    this.#closed = true;
    this.#abort.abort();
    for (const e of this.#entries.values()) {
      if (e.timer !== null) clearTimeout(e.timer);
      e.timer = null;
      e.nextRefreshAt = null;
    }
  }

  #load(entry: Entry): Promise<LoadOutcome> {
    entry.inFlight ??= this.#attempt(entry).finally(() => {
      entry.inFlight = null;
    });
    return entry.inFlight;
  }

  async #attempt(entry: Entry): Promise<LoadOutcome> {
    if (this.#closed) return 'failed';
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    const started = performance.now();
    let outcome: LoadOutcome;
    try {
      const list = entry.source.type === 'file' ? await this.#readFile(entry, entry.source.path) : await this.#fetch(entry, entry.source.url);
      if (this.#closed) return 'failed';
      entry.loadedAt = Date.now();
      entry.lastError = null;
      if (list === null) {
        outcome = 'unchanged';
      } else {
        this.#options.onList(entry.name, list);
        entry.stats = list.stats;
        outcome = 'loaded';
        const s = list.stats;
        const ms = Math.round(performance.now() - started);
        this.#options.log?.info({ list: entry.name, source: entry.source.shown, blockRules: s.blockRules, allowRules: s.allowRules, badLines: s.badLines, ms }, 'DNS list loaded');
        if (s.badLines > 0) this.#options.log?.warn({ list: entry.name, badLines: s.badLines, firstErrors: s.errors.slice(0, 3) }, 'DNS list has lines that are not rules');
      }
      this.#schedule(entry, entry.config.refreshSeconds);
    } catch (err) {
      if (this.#closed) return 'failed';
      outcome = 'failed';
      const message = err instanceof LoadError || err instanceof PalisadeError ? err.message : describe(err);
      entry.lastError = message;
      const kept = entry.stats?.blockRules !== undefined ? entry.stats.blockRules + entry.stats.allowRules : 0;
      const detail = { list: entry.name, source: entry.source.shown, error: message, keptLastGood: entry.loadedAt !== null, keptRules: kept };
      this.#options.log?.warn(detail, 'DNS list load failed; the last good copy stays in force');
      this.#options.events?.record('dns.list_refresh_failed', 'warning', { detail });
      const retry = this.#options.retrySeconds ?? DEFAULT_RETRY_SECONDS;
      const refresh = entry.config.refreshSeconds;
      this.#schedule(entry, refresh > 0 ? Math.min(retry, refresh) : retry);
    }
    return outcome;
  }

  #schedule(entry: Entry, seconds: number): void {
    if (this.#closed || seconds <= 0) {
      entry.nextRefreshAt = null;
      return;
    }
    const ms = Math.min(seconds * 1000, MAX_TIMER_MS);
    entry.nextRefreshAt = Date.now() + ms;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.#load(entry);
    }, ms);
    entry.timer.unref();
  }

  /** null when the file is unchanged since the copy in force. */
  async #readFile(entry: Entry, path: string): Promise<CompiledList | null> {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      throw new LoadError(`cannot read ${entry.source.shown}: ${describe(err)}`);
    }
    if (!info.isFile()) throw new LoadError(`${entry.source.shown} is not a file`);
    const max = this.#options.maxBytes ?? DEFAULT_MAX_LIST_BYTES;
    if (info.size > max) throw new LoadError(`${entry.source.shown} is ${info.size} bytes, more than the ${max} allowed`);
    const stamp = `${info.mtimeMs}:${info.size}`;
    if (stamp === entry.fileStamp && entry.stats !== null) return null;
    const builder = new ListBuilder({ kind: entry.config.kind, format: entry.config.format });
    let sinceYield = 0;
    let total = 0;
    try {
      const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024, signal: this.#abort.signal });
      for await (const chunk of stream as AsyncIterable<string>) {
        total += chunk.length;
        if (total > max) throw new LoadError(`${entry.source.shown} grew past ${max} bytes while being read`);
        builder.write(chunk);
        sinceYield += chunk.length;
        if (sinceYield >= YIELD_EVERY_BYTES) {
          sinceYield = 0;
          await yieldToLoop();
        }
      }
    } catch (err) {
      if (err instanceof LoadError) throw err;
      throw new LoadError(`cannot read ${entry.source.shown}: ${describe(err)}`);
    }
    const list = builder.end();
    entry.fileStamp = stamp;
    return list;
  }

  /** null on 304 Not Modified. */
  async #fetch(entry: Entry, url: URL): Promise<CompiledList | null> {
    const max = this.#options.maxBytes ?? DEFAULT_MAX_LIST_BYTES;
    const timeoutMs = this.#options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const headers: Record<string, string> = { accept: 'text/plain, */*;q=0.5' };
    if (entry.stats !== null) {
      if (entry.etag !== null) headers['if-none-match'] = entry.etag;
      if (entry.lastModified !== null) headers['if-modified-since'] = entry.lastModified;
    }
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs)]);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal, redirect: 'follow' });
    } catch (err) {
      throw new LoadError(`fetching ${entry.source.shown} failed: ${describe(err)}`);
    }
    const finalUrl = res.url === '' ? url : new URL(res.url);
    if (transportProblem(finalUrl) !== null) {
      await res.body?.cancel();
      throw new LoadError(`${entry.source.shown} redirected to ${shownUrl(finalUrl)}, which is not https (nor http to loopback)`);
    }
    if (res.status === 304 && entry.stats !== null) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok || res.body === null) {
      await res.body?.cancel();
      throw new LoadError(`fetching ${entry.source.shown} answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) {
      await res.body.cancel();
      throw new LoadError(`${entry.source.shown} is ${declared} bytes, more than the ${max} allowed`);
    }
    const builder = new ListBuilder({ kind: entry.config.kind, format: entry.config.format });
    const decoder = new TextDecoder('utf-8');
    let total = 0;
    let sinceYield = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        total += chunk.byteLength;
        if (total > max) {
          throw new LoadError(`${entry.source.shown} sent more than the ${max} bytes allowed`);
        }
        builder.write(decoder.decode(chunk, { stream: true }));
        sinceYield += chunk.byteLength;
        if (sinceYield >= YIELD_EVERY_BYTES) {
          sinceYield = 0;
          await yieldToLoop();
        }
      }
      builder.write(decoder.decode());
    } catch (err) {
      if (err instanceof LoadError) {
        await res.body.cancel().catch(() => undefined);
        throw err;
      }
      throw new LoadError(`fetching ${entry.source.shown} failed: ${describe(err)}`);
    }
    entry.etag = res.headers.get('etag');
    entry.lastModified = res.headers.get('last-modified');
    return builder.end();
  }
}

function parseSource(name: string, source: string, baseDir: string): Source {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `dns.lists.${name}.source is not a valid URL`);
    }
    if (url.protocol === 'file:') {
      const path = fileURLToPath(url);
      return { type: 'file', path, shown: path };
    }
    const problem = transportProblem(url);
    if (problem !== null) throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `dns.lists.${name}.source ${shownUrl(url)}: ${problem}`);
    return { type: 'url', url, shown: shownUrl(url) };
  }
  const path = isAbsolute(source) ? source : resolve(baseDir, source);
  return { type: 'file', path, shown: path };
}

/** null when lists may be fetched from `url`. */
function transportProblem(url: URL): string | null {
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname) ? null : 'plain http is allowed only to a loopback address; use https';
  return `unsupported scheme ${url.protocol} (use https, or a file path)`;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** scheme://host/path: no userinfo, query or fragment (they may carry tokens). */
function shownUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    const text = `${err.name === 'TimeoutError' ? 'timed out' : err.message}${cause}`;
    return text.split('\n')[0] ?? text;
  }
  return 'unknown error';
}
