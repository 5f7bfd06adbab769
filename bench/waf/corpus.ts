/**
 * Loads the labelled WAF corpus (data/waf/, issue 5 point 4) and measures an engine on it:
 * detection rate per attack category and false-positive rate per benign set. Shared by
 * bench/waf-bench.ts and the corpus test, so CI fails when a rate regresses.
 */
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Waf } from '../../src/shield/waf/engine.ts';
import type { HttpRequestView, ParanoiaLevel, WafVerdict } from '../../src/shield/waf/types.ts';
import type { ApiEntry } from './generate-benign.ts';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'waf');
export const ATTACK_CATEGORIES = ['sqli', 'xss', 'rce', 'lfi', 'ssrf'] as const;
export type AttackCategory = (typeof ATTACK_CATEGORIES)[number];
export const BENIGN_SETS = ['telemetry', 'api', 'text'] as const;
export type BenignSet = (typeof BENIGN_SETS)[number];

export function loadJsonl<T>(rel: string): T[] {
  return readFileSync(join(CORPUS_DIR, rel), 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);
}

export const loadAttacks = (c: AttackCategory): string[] => loadJsonl<string>(`attacks/${c}.jsonl`);

/** An attack as the value of a query parameter (percent-encoded as a client would send it). */
export function attackAsQuery(p: string): HttpRequestView {
  return { method: 'GET', path: '/api/v1/items', query: `id=7&q=${encodeURIComponent(p)}`, headers: { 'user-agent': 'Mozilla/5.0' }, body: null };
}

/** An attack as a string value inside a device's JSON telemetry. */
export function attackAsJson(p: string): Buffer {
  return Buffer.from(JSON.stringify({ deviceId: 'env-0042', temperature: 21.5, note: p }));
}

export function apiRequest(e: ApiEntry): HttpRequestView {
  const headers: Record<string, string> = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', referer: 'https://app.example.com/dashboard' };
  if (e.contentType !== undefined) headers['content-type'] = e.contentType;
  const v: HttpRequestView = { method: e.method, path: e.path, query: e.query, headers, body: e.body === undefined ? null : Buffer.from(e.body) };
  if (e.contentType !== undefined) v.contentType = e.contentType;
  return v;
}

export interface Rate {
  total: number;
  flagged: number;
  rate: number;
  /** Up to 20 examples of the misses (attacks) or the false positives (benign). */
  examples: string[];
}

function rate(items: string[], verdict: (s: string) => WafVerdict, wantFlagged: boolean): Rate {
  let flagged = 0;
  const examples: string[] = [];
  for (const s of items) {
    const v = verdict(s);
    if (v.anomalous) flagged++;
    if (v.anomalous === wantFlagged && examples.length < 20) {
      examples.push(wantFlagged ? `${s.slice(0, 80)}  <- ${v.hits.map((h) => `${h.ruleId}@${h.location}`).join(',')}` : s.slice(0, 80));
    }
  }
  return { total: items.length, flagged, rate: items.length === 0 ? 0 : flagged / items.length, examples };
}

export function detection(pl: ParanoiaLevel, c: AttackCategory, mode: 'query' | 'json'): Rate {
  const waf = new Waf({ paranoia: pl, threshold: 5 });
  const items = loadAttacks(c);
  return rate(items, (p) => (mode === 'query' ? waf.inspectHttp(attackAsQuery(p)) : waf.inspectPayload(attackAsJson(p))), false);
}

export function falsePositives(pl: ParanoiaLevel, set: BenignSet): Rate {
  const waf = new Waf({ paranoia: pl, threshold: 5 });
  if (set === 'api') {
    const entries = loadJsonl<ApiEntry>('benign/api.jsonl');
    const byKey = new Map(entries.map((e) => [JSON.stringify(e), e]));
    return rate([...byKey.keys()], (k) => waf.inspectHttp(apiRequest(byKey.get(k) as ApiEntry)), true);
  }
  if (set === 'telemetry') {
    const msgs = loadJsonl<object>('benign/telemetry.jsonl').map((m) => JSON.stringify(m));
    return rate(msgs, (m) => waf.inspectPayload(Buffer.from(m)), true);
  }
  const lines = loadJsonl<string>('benign/text.jsonl');
  return rate(lines, (t) => waf.inspectPayload(Buffer.from(t), { contentType: 'text/plain' }), true);
}

/** JSON inspection throughput over the telemetry set, MB/s (10^6 bytes), for about `ms`. */
/**
 * Each pass over the telemetry set uses a fresh engine, so its clean-string cache only profits
 * from repetition inside the 6,000 messages (keys, enum values, log templates), not from having
 * seen the same set before.
 */
export function jsonThroughput(pl: ParanoiaLevel, ms: number, opts: { withoutFreeText?: boolean } = {}): { mbPerS: number; mbPerCpuS: number; parseOnlyMbPerCpuS: number; bytes: number; messages: number } {
  // withoutFreeText: the same messages less their `note` and `message` fields, to show what the
  // free text (43 % of the messages carry some) costs.
  const strip = (m: Record<string, unknown>): object => {
    const { note: _n, message: _m, ...rest } = m;
    return rest;
  };
  const bufs = loadJsonl<Record<string, unknown>>('benign/telemetry.jsonl').map((m) => Buffer.from(JSON.stringify(opts.withoutFreeText === true ? strip(m) : m)));
  const warm = new Waf({ paranoia: pl, threshold: 5 });
  for (const b of bufs) warm.inspectPayload(b); // JIT warm-up
  let bytes = 0;
  let messages = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < deadline) {
    const waf = new Waf({ paranoia: pl, threshold: 5 });
    for (const b of bufs) {
      waf.inspectPayload(b);
      bytes += b.length;
    }
    messages += bufs.length;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpuSecs = (c.user + c.system) / 1e6;
  // Baseline on the same machine and moment: JSON.parse alone over the same bytes.
  let pbytes = 0;
  const p0 = process.cpuUsage();
  const pt0 = process.hrtime.bigint();
  const pdeadline = pt0 + BigInt(Math.max(200, Math.floor(ms / 4))) * 1_000_000n;
  while (process.hrtime.bigint() < pdeadline) {
    for (const b of bufs) {
      JSON.parse(b.toString('utf8'));
      pbytes += b.length;
    }
  }
  const pc = process.cpuUsage(p0);
  return { mbPerS: bytes / 1e6 / secs, mbPerCpuS: bytes / 1e6 / cpuSecs, parseOnlyMbPerCpuS: pbytes / 1e6 / ((pc.user + pc.system) / 1e6), bytes, messages };
}
