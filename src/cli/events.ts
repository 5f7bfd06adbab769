/**
 * `palisade events verify|export|list`: the tamper-evident security event log (issue 3, point 9).
 *
 * verify walks the hash chain and the signed checkpoints, of the store or of an export file,
 * and prints one summary line (exit 0) or the first problem with its event id (exit 1).
 * export writes JSON lines, one event per line with every field including prevHash and hash,
 * so an unfiltered export can be verified on its own. The public key is read in clear from the
 * data dir (or --public-key, to pin a copy kept elsewhere): verifying needs no master key.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { formatVerifyReport, verifyEventLog } from '../core/events/verify.ts';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import type { EventCheckpoint, SecurityEvent, Severity, Store } from '../core/ports.ts';
import { loadEventPublicKey } from '../store/event-signing-key.ts';
import { openSqliteStore } from '../store/sqlite/sqlite-store.ts';
import { addCommonOptions, configFrom, type CommonOptions } from './common.ts';

const PAGE = 1000;
const SEVERITIES = new Set<string>(['info', 'warning', 'critical']);

interface VerifyOptions extends CommonOptions {
  file?: string;
  publicKey?: string;
}

interface ExportOptions extends CommonOptions {
  sinceId?: string;
  type?: string;
  out?: string;
}

interface ListOptions extends CommonOptions {
  type?: string;
  limit?: string;
}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** Opens the data dir's store only when it exists: reading a log must not create an empty one. */
async function withExistingStore<T>(opts: CommonOptions, fn: (store: Store | null, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = resolve(configFrom(opts).dataDir);
  const path = join(dataDir, 'palisade.db');
  if (!existsSync(path)) return fn(null, dataDir);
  const store = await openSqliteStore(path);
  try {
    return await fn(store, dataDir);
  } finally {
    await store.close();
  }
}

function requireStore(store: Store | null, dataDir: string): Store {
  if (store === null) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no event log: ${join(dataDir, 'palisade.db')} does not exist`);
  return store;
}

async function* storeEvents(store: Store, sinceId: number, type?: string): AsyncGenerator<SecurityEvent> {
  let after = sinceId;
  for (;;) {
    const page = await store.events.list({ sinceId: after, type, limit: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

function parseEventLine(line: string, n: number, file: string): SecurityEvent {
  const bad = (why: string): PalisadeError => new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${file} line ${n}: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string') throw bad(`field ${k} is not a string`);
    return o[k];
  };
  const strOrNull = (k: string): string | null => (o[k] === null ? null : str(k));
  const int = (k: string): number => {
    if (typeof o[k] !== 'number' || !Number.isSafeInteger(o[k])) throw bad(`field ${k} is not an integer`);
    return o[k];
  };
  const severity = str('severity');
  if (!SEVERITIES.has(severity)) throw bad(`severity "${severity}" is not info, warning or critical`);
  const detail = o.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) throw bad('field detail is not an object');
  return {
    id: int('id'),
    ts: int('ts'),
    type: str('type'),
    severity: severity as Severity,
    principal: strOrNull('principal'),
    source: strOrNull('source'),
    detail: detail as Record<string, unknown>,
    prevHash: str('prevHash'),
    hash: str('hash'),
  };
}

async function* fileEvents(file: string): AsyncGenerator<SecurityEvent> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((ok, fail) => {
    input.once('open', () => ok());
    input.once('error', (err) => fail(new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? err.message})`)));
  });
  await opened;
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    yield parseEventLine(line, n, file);
  }
}

/** The first event of a file, to tell a full export (from id 1) from one made with --since-id. */
async function firstFileEventId(file: string): Promise<number | null> {
  for await (const e of fileEvents(file)) return e.id;
  return null;
}

async function verify(opts: VerifyOptions): Promise<string> {
  return withExistingStore(opts, async (store, dataDir) => {
    const publicKey = loadEventPublicKey(dataDir, opts.publicKey);
    // Checkpoints first: events only grow meanwhile, so every checkpoint read names events that exist.
    const checkpoints: EventCheckpoint[] = store === null ? [] : await store.events.listCheckpoints();
    if (opts.file === undefined) {
      const report = await verifyEventLog(storeEvents(requireStore(store, dataDir), 0), { checkpoints, publicKey });
      if (report.problem !== null) throw new PalisadeError(ErrorCodes.EVENT_LOG_INVALID, formatVerifyReport(report), { detail: { ...report.problem } });
      return formatVerifyReport(report);
    }
    const first = await firstFileEventId(opts.file);
    const partial = first !== null && first > 1;
    const report = await verifyEventLog(fileEvents(opts.file), { checkpoints, publicKey, partial, openEnded: true });
    if (report.problem !== null) throw new PalisadeError(ErrorCodes.EVENT_LOG_INVALID, `${opts.file}: ${formatVerifyReport(report)}`, { detail: { ...report.problem } });
    const scope = partial ? ` (export from event ${first}: chain checked from there)` : '';
    const source = store === null ? '; no data dir, so no checkpoints to check' : '';
    return `${formatVerifyReport(report)}${scope}${source}`;
  });
}

/** Writes, waiting for the stream to drain so a large export is never buffered whole. */
async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await new Promise<void>((ok) => out.once('drain', ok));
}

async function exportEvents(opts: ExportOptions): Promise<number> {
  const sinceId = nonNegativeInt('--since-id', opts.sinceId, 0);
  return withExistingStore(opts, async (maybeStore, dataDir) => {
    const store = requireStore(maybeStore, dataDir);
    // 0600: events name devices, operators and their addresses.
    const out: Writable = opts.out === undefined ? process.stdout : createWriteStream(opts.out, { mode: 0o600 });
    let n = 0;
    try {
      for await (const e of storeEvents(store, sinceId, opts.type)) {
        await writeLine(out, JSON.stringify(e));
        n++;
      }
    } finally {
      if (out !== process.stdout) await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
    }
    return n;
  });
}

function formatRow(e: SecurityEvent): string[] {
  const detail = JSON.stringify(e.detail);
  return [String(e.id), new Date(e.ts).toISOString(), e.severity, e.type, e.principal ?? '-', e.source ?? '-', detail.length > 80 ? `${detail.slice(0, 77)}...` : detail];
}

function table(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  // The last column is not padded: it is the long one, and trailing blanks help nobody.
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

/** The newest `limit` events (of one type), oldest first. */
async function listEvents(opts: ListOptions): Promise<string[]> {
  const limit = nonNegativeInt('--limit', opts.limit, 50);
  return withExistingStore(opts, async (maybeStore, dataDir) => {
    const store = requireStore(maybeStore, dataDir);
    let newest: SecurityEvent[] = [];
    if (opts.type === undefined) {
      const last = await store.events.last();
      // Ids are consecutive, so the newest N start right after last.id - N.
      if (last !== null) newest = await store.events.list({ sinceId: Math.max(0, last.id - limit), limit });
    } else {
      for await (const e of storeEvents(store, 0, opts.type)) {
        newest.push(e);
        if (newest.length > limit) newest.shift();
      }
    }
    if (newest.length === 0) return ['no events'];
    return table([['ID', 'TIME', 'SEVERITY', 'TYPE', 'PRINCIPAL', 'SOURCE', 'DETAIL'], ...newest.map(formatRow)]);
  });
}

export function registerEventsCommands(program: Command): void {
  const events = program.command('events').description('the tamper-evident security event log: verify, export, list');

  addCommonOptions(events.command('verify').description('check the hash chain and the signed checkpoints; one summary line and exit 0, or the first problem with its event id and exit 1'))
    .option('-f, --file <file>', 'verify an export (JSON lines from `events export` without --type) instead of the store, against the checkpoints of the data dir when it has a store')
    .option('--public-key <file>', 'the event-log public key to trust (default DATA_DIR/events/signing-key.pub.pem)')
    .action(async (opts: VerifyOptions) => {
      console.log(await verify(opts));
    });

  addCommonOptions(events.command('export').description('write events as JSON lines, one per line with every field including prevHash and hash'))
    .option('--since-id <id>', 'only events after this id')
    .option('-t, --type <type>', 'only events of this type (such an export cannot be chain-verified)')
    .option('-o, --out <file>', 'write to this file (0600) instead of stdout')
    .action(async (opts: ExportOptions) => {
      const n = await exportEvents(opts);
      if (opts.out !== undefined) console.log(`exported ${n} events to ${opts.out}`);
    });

  addCommonOptions(events.command('list').description('print the newest events as a table'))
    .option('-t, --type <type>', 'only events of this type')
    .option('-n, --limit <n>', 'how many (default 50)')
    .action(async (opts: ListOptions) => {
      for (const line of await listEvents(opts)) console.log(line);
    });
}
