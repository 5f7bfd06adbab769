/**
 * The WAF engine (issue 5, point 3): runs the rule table over every string an HTTP request or a
 * device payload carries and sums an OWASP-CRS-style anomaly score.
 *
 * HTTP: path, each query parameter name and value, selected headers (User-Agent, Referer, each
 * Cookie value, X-Forwarded-For, ...) and the body (form fields, JSON string values, else text),
 * each seen as given, percent-decoded once, and decoded again while it changes (double encoding).
 * Device payloads: JSON (cheap check on the first non-space byte) is walked and each string value
 * and object key is inspected, located as `json:$.a.b[2]`; other payloads are inspected as text
 * when they are valid UTF-8, and binary is skipped.
 *
 * Cost is bounded per payload (characters inspected, strings visited, nesting depth); what is not
 * inspected because of a bound is reported as a notice hit (rule 920500) so it is visible.
 */
import { isUtf8 } from 'node:buffer';
import { charMask } from './charclass.ts';
import { decodedForms, normalisePath } from './decode.ts';
import { RULES, type WafRule } from './rules.ts';
import { SEVERITY_SCORE, type HttpRequestView, type WafHit, type WafOptions, type WafVerdict } from './types.ts';

export interface WafLimits {
  /** Characters inspected per request or payload (default 1 MiB); the rest is skipped. */
  maxInspectChars: number;
  /** Characters of one string value inspected (default 16 KiB: head of the value). */
  maxValueChars: number;
  /** Strings (values and keys) visited per payload (default 20,000). */
  maxStrings: number;
  /** JSON nesting depth walked (default 64). */
  maxDepth: number;
}

export const DEFAULT_LIMITS: WafLimits = { maxInspectChars: 1 << 20, maxValueChars: 16 << 10, maxStrings: 20_000, maxDepth: 64 };

/** Headers inspected by default (lower case); cookies are split into their values. */
export const DEFAULT_HEADERS = [
  'user-agent', 'referer', 'cookie', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'forwarded',
  'origin', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'content-disposition',
];

const LIMIT_RULE = { id: '920500', category: 'protocol', severity: 'notice', paranoia: 1 } as const;

/** Mutable state of one inspection: hits, dedupe set, budgets. */
class Inspection {
  readonly hits: WafHit[] = [];
  private readonly seen = new Set<string>();
  chars = 0;
  strings = 0;
  limited = false;
  readonly rules: readonly WafRule[];
  readonly limits: WafLimits;
  constructor(rules: readonly WafRule[], limits: WafLimits) {
    this.rules = rules;
    this.limits = limits;
  }

  /** False once a budget is spent (and records the 920500 notice once). */
  budget(n: number, location: string): boolean {
    if (this.limited) return false;
    this.strings++;
    this.chars += n;
    if (this.chars > this.limits.maxInspectChars || this.strings > this.limits.maxStrings) {
      this.limited = true;
      this.hits.push({ ruleId: LIMIT_RULE.id, category: LIMIT_RULE.category, severity: LIMIT_RULE.severity, paranoia: LIMIT_RULE.paranoia, location, match: 'inspection limit reached' });
      return false;
    }
    return true;
  }

  /** Runs the rules on one string (and its decoded forms). `location` is built only on a hit. */
  value(raw: string, location: string | (() => string), args: boolean, plusIsSpace = false, extraForms?: (f: string) => string): void {
    let s = raw.length > this.limits.maxValueChars ? raw.slice(0, this.limits.maxValueChars) : raw;
    if (!this.budget(s.length, typeof location === 'string' ? location : location())) return;
    const forms = s.indexOf('%') === -1 && !(plusIsSpace && s.indexOf('+') !== -1) ? null : decodedForms(s, plusIsSpace);
    if (forms === null) {
      if (extraForms !== undefined) {
        const x = extraForms(s);
        if (x !== s) {
          this.form(s, location, args);
          s = x;
        }
      }
      this.form(s, location, args);
      return;
    }
    for (const f of forms) {
      this.form(f, location, args);
      if (extraForms !== undefined) {
        const x = extraForms(f);
        if (x !== f) this.form(x, location, args);
      }
    }
  }

  private form(s: string, location: string | (() => string), args: boolean): void {
    const mask = charMask(s);
    if (mask === 0) return;
    for (const rule of this.rules) {
      if ((rule.trigger & mask) === 0) continue;
      if (rule.argsOnly === true && !args) continue;
      const m = rule.test(s, mask);
      if (m === null) continue;
      const loc = typeof location === 'string' ? location : location();
      const key = `${rule.id}\u0000${loc}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      const hit: WafHit = { ruleId: rule.id, category: rule.category, severity: rule.severity, paranoia: rule.paranoia, location: loc, match: m.match.slice(0, 64) };
      if (m.fingerprint !== undefined) hit.fingerprint = m.fingerprint;
      this.hits.push(hit);
    }
  }
}

/** `$.a.b[2]`, with bracket-quoting for keys that are not identifiers. */
export function jsonPath(parts: readonly (string | number)[]): string {
  let out = '$';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(p.length > 40 ? p.slice(0, 40) : p)}]`;
  }
  return out;
}

function walkJson(insp: Inspection, v: unknown, path: (string | number)[], depth: number, prefix: string): void {
  if (typeof v === 'string') {
    if (v.length < 2) return; // no rule matches a single character
    insp.value(v, () => prefix + jsonPath(path), true);
    return;
  }
  if (v === null || typeof v !== 'object') return; // numbers, booleans: nothing to inject
  if (depth >= insp.limits.maxDepth) {
    insp.budget(insp.limits.maxInspectChars + 1, prefix + jsonPath(path));
    return;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && !insp.limited; i++) {
      const e: unknown = v[i];
      if (e === null || (typeof e !== 'object' && typeof e !== 'string')) continue;
      path.push(i);
      walkJson(insp, e, path, depth + 1, prefix);
      path.pop();
    }
    return;
  }
  for (const k in v) {
    if (insp.limited) return;
    path.push(k);
    if (k.length >= 2) insp.value(k, () => `${prefix}${jsonPath(path)}(key)`, true);
    const e = (v as Record<string, unknown>)[k];
    if (e !== null && (typeof e === 'object' || typeof e === 'string')) walkJson(insp, e, path, depth + 1, prefix);
    path.pop();
  }
}

function firstNonSpace(b: Buffer): number {
  for (let i = 0; i < b.length && i < 64; i++) {
    const c = b[i] ?? 0;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

function tryJson(b: Buffer): { ok: true; value: unknown } | { ok: false } {
  const c = firstNonSpace(b);
  if (c !== 0x7b && c !== 0x5b && c !== 0x22) return { ok: false }; // { [ "
  try {
    return { ok: true, value: JSON.parse(b.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function headerValues(h: string | string[] | undefined): string[] {
  if (h === undefined) return [];
  return Array.isArray(h) ? h : [h];
}

/** Splits `a=1&b=2` into [name, value] pairs, undecoded. */
function splitPairs(s: string, sep: string): [string, string][] {
  const out: [string, string][] = [];
  if (s.length === 0) return out;
  for (const part of s.split(sep)) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    out.push(eq === -1 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

function safeName(raw: string): string {
  let n: string;
  try {
    n = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    n = raw;
  }
  return n.length > 40 ? n.slice(0, 40) : n;
}

export class Waf {
  readonly options: WafOptions;
  readonly limits: WafLimits;
  readonly headers: readonly string[];
  private readonly rules: readonly WafRule[];

  constructor(options: WafOptions, extra: { limits?: Partial<WafLimits>; headers?: readonly string[]; rules?: readonly WafRule[] } = {}) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...extra.limits };
    this.headers = (extra.headers ?? DEFAULT_HEADERS).map((h) => h.toLowerCase());
    this.rules = (extra.rules ?? RULES).filter((r) => r.paranoia <= options.paranoia);
  }

  /** Rules active at this paranoia level. */
  activeRules(): readonly WafRule[] {
    return this.rules;
  }

  inspectHttp(req: HttpRequestView): WafVerdict {
    const insp = new Inspection(this.rules, this.limits);
    insp.value(req.path, 'path', false, false, normalisePath);
    for (const [name, value] of splitPairs(req.query, '&')) {
      const n = safeName(name);
      insp.value(name, `query-name:${n}`, true, true);
      if (value.length > 0) insp.value(value, `query:${n}`, true, true);
    }
    for (const h of this.headers) {
      for (const v of headerValues(req.headers[h])) {
        if (h === 'cookie') {
          for (const [cn, cv] of splitPairs(v, ';')) {
            if (cv.length > 0) insp.value(cv, `cookie:${cn.trim().slice(0, 40)}`, true);
          }
        } else {
          insp.value(v, `header:${h}`, false);
        }
      }
    }
    if (req.body !== null && req.body.length > 0) {
      const ct = (req.contentType ?? headerValues(req.headers['content-type'])[0] ?? '').toLowerCase();
      this.body(insp, req.body, ct);
    }
    return this.verdict(insp);
  }

  inspectPayload(payload: Buffer, opts: { contentType?: string } = {}): WafVerdict {
    const insp = new Inspection(this.rules, this.limits);
    this.body(insp, payload, (opts.contentType ?? '').toLowerCase(), 'payload');
    return this.verdict(insp);
  }

  /** One string from elsewhere (an MQTT topic, a CoAP option), located as given. */
  inspectString(value: string, location: string): WafVerdict {
    const insp = new Inspection(this.rules, this.limits);
    insp.value(value, location, true);
    return this.verdict(insp);
  }

  private body(insp: Inspection, body: Buffer, ct: string, textLocation = 'body'): void {
    const b = body.length > this.limits.maxInspectChars ? body.subarray(0, this.limits.maxInspectChars) : body;
    if (ct.startsWith('application/x-www-form-urlencoded')) {
      for (const [name, value] of splitPairs(b.toString('utf8'), '&')) {
        const n = safeName(name);
        insp.value(name, `body-name:${n}`, true, true);
        if (value.length > 0) insp.value(value, `body:${n}`, true, true);
      }
      return;
    }
    if (ct === '' || ct.includes('json')) {
      const j = b === body ? tryJson(b) : { ok: false as const };
      if (j.ok) {
        walkJson(insp, j.value, [], 0, 'json:');
        return;
      }
    }
    if (!isUtf8(b)) return; // binary: nothing a text rule could read
    const text = b.toString('utf8');
    // Long text in overlapping windows, so padding cannot push a payload past the value bound.
    const step = this.limits.maxValueChars - 256;
    for (let at = 0; at < text.length && !insp.limited; at += step) {
      insp.value(text.slice(at, at + this.limits.maxValueChars), textLocation, true);
    }
    if (b !== body) insp.budget(this.limits.maxInspectChars + 1, textLocation);
  }

  private verdict(insp: Inspection): WafVerdict {
    let score = 0;
    for (const h of insp.hits) score += SEVERITY_SCORE[h.severity];
    return { score, hits: insp.hits, anomalous: score >= this.options.threshold };
  }
}
