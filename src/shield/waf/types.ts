/**
 * The WAF's shared vocabulary (issue 5, point 3): what a detector says about one string, what a
 * rule hit is, and what an inspection of a whole HTTP request or device payload returns.
 * Scoring follows the OWASP Core Rule Set: each hit adds its severity's score to an anomaly
 * score; a request is blocked when the score reaches the threshold (CRS default 5 = one
 * critical hit). Rules carry a paranoia level 1..4; a rule runs only when the configured
 * paranoia level is at or above its own.
 */

export type WafCategory = 'sqli' | 'xss' | 'rce' | 'lfi' | 'ssrf' | 'protocol' | 'schema' | 'size';

export type ParanoiaLevel = 1 | 2 | 3 | 4;

/** CRS anomaly scores per severity (crs-setup.conf: critical 5, error 4, warning 3, notice 2). */
export const SEVERITY_SCORE = { critical: 5, error: 4, warning: 3, notice: 2 } as const;
export type WafSeverity = keyof typeof SEVERITY_SCORE;

/** What a tokenizing detector (libinjection style) says about one input string. */
export interface DetectorResult {
  detected: boolean;
  /** SQLi: the folded token fingerprint (e.g. "s&1c"); XSS: the construct found (e.g. "tag:script"). */
  fingerprint?: string;
}

export interface WafHit {
  /** Stable id, CRS-like: 942100 (SQLi detector), 941100 (XSS detector), 932xxx RCE, 930xxx LFI, 934xxx SSRF. */
  ruleId: string;
  category: WafCategory;
  severity: WafSeverity;
  paranoia: ParanoiaLevel;
  /** Where: 'path', 'query:<name>', 'header:<name>', 'body', 'json:$.a.b[2]', 'payload'. */
  location: string;
  /** A short excerpt of what matched (at most 64 characters), for the security event. */
  match: string;
  fingerprint?: string;
}

export interface WafVerdict {
  score: number;
  hits: WafHit[];
  /** score >= threshold (what happens then depends on the segment's mode: block, log or off). */
  anomalous: boolean;
}

export interface HttpRequestView {
  method: string;
  /** Path without the query string, still percent-encoded as received. */
  path: string;
  /** Raw query string without '?', may be empty. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | null;
  contentType?: string;
}

export interface WafOptions {
  paranoia: ParanoiaLevel;
  /** Inbound anomaly score threshold (CRS default 5). */
  threshold: number;
}
