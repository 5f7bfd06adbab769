/**
 * Property tests for the WAF (issue 5, point 3): inspection never throws, whatever the bytes or
 * strings; the byte-level JSON scanner accepts every JSON text and hands over every string a
 * rule could care about (checked against JSON.parse).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Waf } from '../../src/shield/waf/engine.ts';
import { JsonScanner } from '../../src/shield/waf/json-scan.ts';
import { CC, classMask } from '../../src/shield/waf/charclass.ts';
import type { ParanoiaLevel } from '../../src/shield/waf/types.ts';

const wafs = ([1, 2, 3, 4] as ParanoiaLevel[]).map((p) => new Waf({ paranoia: p, threshold: 5 }));
const tricky = fc.constantFrom('%', '%2', '%25', '%c0%af', '%u002e', '\\x27', '&lt', '&#x3c;', '../', '${IFS}', '$(', '`', '://', '0x', '\u0000', '\ud800', '"', '\\', '{', '[', '\uff0e');
const str = fc.array(fc.oneof(fc.string({ unit: 'binary' }), tricky), { maxLength: 8 }).map((a) => a.join(''));

describe('WAF never throws', () => {
  it('on arbitrary payload bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(undefined, 'application/json', 'text/plain'), (bytes, ct) => {
      for (const w of wafs) {
        const v = w.inspectPayload(Buffer.from(bytes), ct === undefined ? {} : { contentType: ct });
        expect(v.score).toBeGreaterThanOrEqual(0);
      }
    }), { numRuns: 300 });
  });

  it('on arbitrary JSON documents and strings with attack fragments', () => {
    fc.assert(fc.property(fc.jsonValue(), str, (j, s) => {
      for (const w of wafs) {
        w.inspectPayload(Buffer.from(JSON.stringify(j)));
        w.inspectPayload(Buffer.from(JSON.stringify({ [s]: [s, { s }] })));
        w.inspectString(s, 'x');
      }
    }), { numRuns: 200 });
  });

  it('on arbitrary HTTP request views', () => {
    fc.assert(fc.property(str, str, str, fc.option(fc.uint8Array({ maxLength: 256 })), fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', ''), (path, query, header, body, ct) => {
      for (const w of wafs) {
        const v = w.inspectHttp({ method: 'POST', path, query, headers: { 'user-agent': header, cookie: `${header}=${query}`, referer: [header, path] }, body: body === null ? null : Buffer.from(body), contentType: ct });
        expect(Number.isFinite(v.score)).toBe(true);
      }
    }), { numRuns: 200 });
  });
});

describe('JSON scanner', () => {
  const scanner = new JsonScanner(1000);
  it('accepts every JSON text and visits every string a rule could care about', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (j) => {
      const text = JSON.stringify(j);
      const seen = new Set<string>();
      const ok = scanner.scan(Buffer.from(text), { string: (s) => void seen.add(s), tooDeep: () => undefined, stopped: () => false });
      expect(ok).toBe(true);
      const want: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') want.push(v);
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v !== null && typeof v === 'object') for (const [k, e] of Object.entries(v)) { want.push(k); walk(e); }
      };
      walk(JSON.parse(text));
      for (const s of want) {
        if (s.length >= 2 && (classMask(s) & ~(CC.COLON | CC.COMMA)) !== 0) expect(seen.has(s), JSON.stringify(s)).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('computes on the bytes the same class mask classMask computes on the text', () => {
    fc.assert(fc.property(str, (s) => {
      const masks: number[] = [];
      scanner.scan(Buffer.from(JSON.stringify({ k: s })), { string: (v, key, _l, mask) => void (key ? undefined : v === s && masks.push(mask)), tooDeep: () => undefined, stopped: () => false });
      for (const m of masks) if (m !== -1) expect(m & ~CC.HIGH, JSON.stringify(s)).toBe(classMask(s));
    }), { numRuns: 500 });
  });

  it('rejects malformed documents', () => {
    for (const bad of ['{"a":1', '{"a" 1}', '[1,]x', '{"a":"\u0001"}', '"unterminated', '{"a":"\\q"}', '[1] 2']) {
      expect(scanner.scan(Buffer.from(bad), { string: () => undefined, tooDeep: () => undefined, stopped: () => false }), bad).toBe(false);
    }
  });
});
