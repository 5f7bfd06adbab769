/**
 * XSS detector entry point (issue 5, point 3). First simple version; replaced by the
 * html5-tokenizer detector (libinjection style) run in several contexts.
 */
import type { DetectorResult } from '../types.ts';

const QUICK = /<\s*(script|iframe|object|embed|svg)\b|\bon[a-z]+\s*=|javascript\s*:/i;

export function detectXss(input: string): DetectorResult {
  const m = QUICK.exec(input);
  return m ? { detected: true, fingerprint: 'pre' } : { detected: false };
}
