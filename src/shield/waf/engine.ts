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
import { BYTE_CLASS, CC, charMask, classMask, finishMask } from './charclass.ts';
import { decodedForms, escapeDecode, htmlEntityDecode, normalisePath } from './decode.ts';
import { RULES, type WafRule } from './rules.ts';
import { JsonScanner, type JsonVisitor } from './json-scan.ts';
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

/** Clean-string cache: strings up to this length, at most this many (then cleared). */
const CLEAN_CACHE_MAX_LEN = 256;
const CLEAN_CACHE_ENTRIES = 16_384; // at most ≈ 8 MiB of cached text per engine

const LIMIT_RULE = { id: '920500', category: 'protocol', severity: 'notice', paranoia: 1 } as const;

/** Mutable state of one inspection: hits, dedupe set, budgets. */
class Inspection {
  readonly hits: WafHit[] = [];
  /** ruleId + location pairs already reported; created on the first hit (most inspections have none). */
  private seen: Set<string> | null = null;
  chars = 0;
  strings = 0;
  limited = false;
  /** Rule matches before de-duplication: tells whether a string was clean. */
  private matches = 0;
  readonly rules: readonly WafRule[];
  readonly limits: WafLimits;
  private readonly clean: Set<string>;
  constructor(rules: readonly WafRule[], limits: WafLimits, clean: Set<string>) {
    this.rules = rules;
    this.limits = limits;
    this.clean = clean;
  }

  /** False once a budget is spent (and records the 920500 notice once). */
  budget(n: number, location: string | (() => string)): boolean {
    if (this.limited) return false;
    this.strings++;
    this.chars += n;
    if (this.chars > this.limits.maxInspectChars || this.strings > this.limits.maxStrings) {
      this.limited = true;
      const loc = typeof location === 'string' ? location : location();
      this.hits.push({ ruleId: LIMIT_RULE.id, category: LIMIT_RULE.category, severity: LIMIT_RULE.severity, paranoia: LIMIT_RULE.paranoia, location: loc, match: 'inspection limit reached' });
      return false;
    }
    return true;
  }

  /** Runs the rules on one string (and its decoded forms). `location` is built only on a hit. */
  value(raw: string, location: string | (() => string), args: boolean, plusIsSpace = false, extraForms?: (f: string) => string, knownMask = -1): void {
    const cut = raw.length > this.limits.maxValueChars;
    const s = cut ? raw.slice(0, this.limits.maxValueChars) : raw;
    if (!this.budget(s.length, location)) return;
    // The common case: nothing in the string any rule could match, and nothing to decode.
    const raw0 = knownMask >= 0 && !cut ? knownMask : classMask(s);
    if (raw0 === 0 && extraForms === undefined) return;
    // Telemetry repeats itself (status texts, log templates, enum values): a short argument
    // string already found clean by this engine is not inspected again.
    const cacheable = args && !plusIsSpace && extraForms === undefined && s.length <= CLEAN_CACHE_MAX_LEN;
    if (cacheable && this.clean.has(s)) return;
    const mask = raw0 === 0 ? 0 : finishMask(s, raw0);
    const before = this.matches;
    this.run(s, mask, location, args, plusIsSpace, extraForms);
    if (cacheable && this.matches === before) {
      if (this.clean.size >= CLEAN_CACHE_ENTRIES) this.clean.clear();
      this.clean.add(s);
    }
  }

  private run(s: string, mask: number, location: string | (() => string), args: boolean, plusIsSpace: boolean, extraForms?: (f: string) => string): void {
    const forms = s.indexOf('%') === -1 && !(plusIsSpace && s.indexOf('+') !== -1) ? [s] : decodedForms(s, plusIsSpace);
    for (let i = 0; i < forms.length; i++) {
      const f = forms[i] ?? '';
      this.form(f, location, args, i === 0 ? mask : undefined);
      // Escape sequences and HTML character references, when the form holds any (CRS applies
      // t:escapeSeqDecode, t:jsDecode and t:htmlEntityDecode the same way).
      const m = i === 0 ? mask : charMask(f);
      if ((m & CC.SLASH) !== 0) {
        const e = escapeDecode(f);
        if (e !== f) this.form(e, location, args);
      }
      if ((m & CC.AMP) !== 0) {
        const h = htmlEntityDecode(f);
        if (h !== f) this.form(h, location, args);
      }
      if (extraForms !== undefined) {
        const x = extraForms(f);
        if (x !== f) this.form(x, location, args);
      }
    }
  }

  private form(s: string, location: string | (() => string), args: boolean, knownMask?: number): void {
    const mask = knownMask ?? charMask(s);
    if (mask === 0) return;
    for (const rule of this.rules) {
      if ((rule.trigger & mask) === 0) continue;
      if (rule.argsOnly === true && !args) continue;
      const m = rule.test(s, mask);
      if (m === null) continue;
      this.matches++;
      const loc = typeof location === 'string' ? location : location();
      const key = `${rule.id}\u0000${loc}`;
      this.seen ??= new Set<string>();
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      const hit: WafHit = { ruleId: rule.id, category: rule.category, severity: rule.severity, paranoia: rule.paranoia, location: loc, match: m.match.slice(0, 64) };
      if (m.fingerprint !== undefined) hit.fingerprint = m.fingerprint;
      this.hits.push(hit);
    }
  }
}

/** The verdict of an inspection without hits: one shared, frozen object. */
const CLEAN: WafVerdict = Object.freeze({ score: 0, hits: Object.freeze([]) as unknown as WafHit[], anomalous: false });

/**
 * True when no byte of `b` belongs to a class any rule needs (the byte form of classMask(...) ===
 * 0 before the keyword check: so only when there is no space either).
 */
function dullBytes(b: Buffer): boolean {
  let prev = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] ?? 0;
    const t = BYTE_CLASS[c] ?? 0;
    if ((t & ~(CC.COLON | CC.HIGH)) !== 0) return false;
    if ((c === 0x2d || c === 0x2e) && prev === c) return false;
    if (c === 0x78 && prev === 0x30) return false;
    if (c >= 0xe2 && c <= 0xef) return false; // possibly a look-alike of . / \
    prev = c;
  }
  return true;
}

/** RFC 8259 §2: a JSON text is a value; telemetry is an object or an array (or a string). */
function looksLikeJson(b: Buffer): boolean {
  for (let i = 0; i < b.length && i < 64; i++) {
    const c = b[i] ?? 0;
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b || c === 0x22; // { [ "
  }
  return false;
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

/** Feeds the JSON scanner's strings to the current inspection; one per engine, reused. */
class InspectVisitor implements JsonVisitor {
  insp: Inspection | null = null;
  /** Keys repeat in every message of a fleet: each distinct clean key is inspected once. */
  private readonly cleanKeys = new Set<string>();
  private readonly limits: WafLimits;
  constructor(limits: WafLimits) {
    this.limits = limits;
  }
  string(s: string, key: boolean, locate: () => string, mask: number): void {
    const insp = this.insp;
    if (insp === null) return;
    if (!key) {
      insp.value(s, locate, true, false, undefined, mask);
      return;
    }
    if (s.length <= CLEAN_CACHE_MAX_LEN && this.cleanKeys.has(s)) return;
    const before = insp.hits.length;
    insp.value(s, locate, true, false, undefined, mask);
    if (insp.hits.length === before && s.length <= CLEAN_CACHE_MAX_LEN && this.cleanKeys.size < CLEAN_CACHE_ENTRIES) this.cleanKeys.add(s);
  }
  tooDeep(locate: () => string): void {
    this.insp?.budget(this.limits.maxInspectChars + 1, locate);
  }
  stopped(): boolean {
    return this.insp?.limited ?? true;
  }
}

export class Waf {
  readonly options: WafOptions;
  readonly limits: WafLimits;
  readonly headers: readonly string[];
  private readonly rules: readonly WafRule[];
  private readonly clean = new Set<string>();
  private readonly scanner: JsonScanner;
  private readonly visitor: InspectVisitor;

  constructor(options: WafOptions, extra: { limits?: Partial<WafLimits>; headers?: readonly string[]; rules?: readonly WafRule[] } = {}) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...extra.limits };
    this.headers = (extra.headers ?? DEFAULT_HEADERS).map((h) => h.toLowerCase());
    this.rules = (extra.rules ?? RULES).filter((r) => r.paranoia <= options.paranoia);
    this.scanner = new JsonScanner(this.limits.maxDepth);
    this.visitor = new InspectVisitor(this.limits);
  }

  /** Rules active at this paranoia level. */
  activeRules(): readonly WafRule[] {
    return this.rules;
  }

  inspectHttp(req: HttpRequestView): WafVerdict {
    const insp = new Inspection(this.rules, this.limits, this.clean);
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
    const insp = new Inspection(this.rules, this.limits, this.clean);
    this.body(insp, payload, (opts.contentType ?? '').toLowerCase(), 'payload');
    return this.verdict(insp);
  }

  /** One string from elsewhere (an MQTT topic, a CoAP option), located as given. */
  inspectString(value: string, location: string): WafVerdict {
    const insp = new Inspection(this.rules, this.limits, this.clean);
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
    if ((ct === '' || ct.includes('json')) && b === body && looksLikeJson(b)) {
      this.visitor.insp = insp;
      const ok = this.scanner.scan(b, this.visitor);
      if (ok) return;
    }
    if (!isUtf8(b)) return; // binary: nothing a text rule could read
    if (b.length <= this.limits.maxValueChars && dullBytes(b)) return; // the short frame with nothing in it
    const text = b.toString('utf8');
    // Long text in overlapping windows, so padding cannot push a payload past the value bound.
    const step = this.limits.maxValueChars - 256;
    for (let at = 0; at < text.length && !insp.limited; at += step) {
      insp.value(text.slice(at, at + this.limits.maxValueChars), textLocation, true);
    }
    if (b !== body) insp.budget(this.limits.maxInspectChars + 1, textLocation);
  }

  private verdict(insp: Inspection): WafVerdict {
    if (insp.hits.length === 0) return CLEAN;
    let score = 0;
    for (const h of insp.hits) score += SEVERITY_SCORE[h.severity];
    return { score, hits: insp.hits, anomalous: score >= this.options.threshold };
  }
}
