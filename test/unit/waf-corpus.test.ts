/**
 * The WAF against its labelled corpus (issue 5, point 4; data/waf/README.md): at paranoia level
 * 1, at least 95 % of SQLi, XSS, command-injection and LFI attacks are detected and at most 1 %
 * of benign telemetry, API traffic and text is flagged. Rates only (timings are in
 * bench/waf-bench.ts), so a regression in any rule or detector fails CI.
 */
import { describe, expect, it } from 'vitest';
import { detection, falsePositives } from '../../bench/waf/corpus.ts';

describe('WAF corpus, paranoia level 1', () => {
  for (const c of ['sqli', 'xss', 'rce', 'lfi'] as const) {
    it(`detects >= 95 % of ${c} attacks (as a query parameter and as a JSON value)`, () => {
      for (const mode of ['query', 'json'] as const) {
        const r = detection(1, c, mode);
        expect(r.total).toBeGreaterThan(80);
        expect(r.rate, `${c}/${mode}: ${r.flagged}/${r.total}; misses e.g. ${r.examples.slice(0, 5).join(' | ')}`).toBeGreaterThanOrEqual(0.95);
      }
    });
  }

  it('detects SSRF URLs to loopback, metadata and dangerous schemes (private ranges are PL3)', () => {
    expect(detection(1, 'ssrf', 'query').rate).toBeGreaterThanOrEqual(0.9);
    expect(detection(3, 'ssrf', 'query').rate).toBe(1);
  });

  for (const s of ['telemetry', 'api', 'text'] as const) {
    it(`flags <= 1 % of benign ${s}`, () => {
      const r = falsePositives(1, s);
      expect(r.total).toBeGreaterThan(1000);
      expect(r.rate, `${s}: ${r.flagged}/${r.total}; e.g. ${r.examples.slice(0, 5).join(' | ')}`).toBeLessThanOrEqual(0.01);
    });
  }
});
