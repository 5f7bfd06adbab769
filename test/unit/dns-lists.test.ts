// Block and allow list parsing and matching (issue 6 point 2): every format, wildcard and
// subdomain semantics, regex safety, junk counted never thrown, the bundled IoT list, and
// fast-check properties of the suffix matcher.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileList, ListBuilder } from '../../src/core/dns/lists/builder.ts';
import { canonicalName } from '../../src/core/dns/lists/name.ts';
import { regexSafetyProblem } from '../../src/core/dns/lists/regex-safety.ts';
import { globMatch } from '../../src/core/dns/lists/glob.ts';
import { BUNDLED_THREAT_LIST_PATH } from '../../src/protocols/dns/list-sources.ts';

const block = (text: string, format: 'auto' | 'hosts' | 'domains' | 'adblock' | 'regex' = 'auto') => compileList(text, { kind: 'block', format });

describe('hosts format', () => {
  it('blocks each name exactly, ignores localhost entries and comments', () => {
    const l = block('# comment\n0.0.0.0 a.com b.com # trailing\n127.0.0.1 x.net\n:: six.org\n127.0.0.1 localhost\n::1 ip6-localhost\n255.255.255.255 broadcasthost\n', 'hosts');
    expect(l.stats.blockRules).toBe(4);
    expect(l.stats.badLines).toBe(0);
    expect(l.stats.ignored.localhost).toBe(3);
    for (const n of ['a.com', 'b.com', 'x.net', 'six.org']) expect(l.block.match(n)).toBe(n);
    expect(l.block.match('sub.a.com')).toBeNull();
    expect(l.block.match('localhost')).toBeNull();
  });

  it('counts a line without an address, or without a name, as bad', () => {
    const l = block('a.com\n0.0.0.0\n0.0.0.0 ok.com\n', 'hosts');
    expect(l.stats.badLines).toBe(2);
    expect(l.stats.errors.map((e) => e.line)).toEqual([1, 2]);
    expect(l.block.match('ok.com')).toBe('ok.com');
  });
});

describe('plain domains and wildcards', () => {
  it('a plain name is exact; *.name is the name and every subdomain', () => {
    const l = block('exact.com\n*.wild.com\nEXAMPLE.ORG.\n', 'domains');
    expect(l.block.match('exact.com')).toBe('exact.com');
    expect(l.block.match('www.exact.com')).toBeNull();
    expect(l.block.match('wild.com')).toBe('*.wild.com'); // apex included, as Pi-hole
    expect(l.block.match('a.b.wild.com')).toBe('*.wild.com');
    expect(l.block.match('notwild.com')).toBeNull();
    expect(l.block.match('example.org')).toBe('example.org'); // case and trailing dot
  });

  it('a glob matches any characters, dots included', () => {
    const l = block('ads*.glob.com\n');
    expect(l.block.match('ads1.glob.com')).toBe('ads*.glob.com');
    expect(l.block.match('ads.x.glob.com')).toBe('ads*.glob.com');
    expect(l.block.match('img.glob.com')).toBeNull();
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyy')).toBe(false);
  });

  it('IDN: Unicode becomes punycode, punycode stays', () => {
    const l = block('bücher.de\nxn--caf-dma.fr\n');
    expect(l.block.match('xn--bcher-kva.de')).toBe('xn--bcher-kva.de');
    expect(l.block.match('xn--caf-dma.fr')).toBe('xn--caf-dma.fr');
    expect(canonicalName('a..b')).toEqual({ error: expect.stringContaining('empty label') as string });
    expect(canonicalName(`${'a'.repeat(64)}.com`)).toEqual({ error: expect.stringContaining('label longer') as string });
  });
});

describe('adblock syntax', () => {
  it('||name^ blocks the name and subdomains; @@ is an allow rule; cosmetic and narrowed rules are ignored', () => {
    const l = block([
      '[Adblock Plus 2.0]', '! comment', '||ads.example^', '||imp.example^$important', '|only.example^',
      '@@||good.ads.example^', 'example.com##.banner', '||tp.example^$third-party', '||url.example/path', '||x.example^$domain=a.com',
    ].join('\n'), 'adblock');
    expect(l.block.match('ads.example')).toBe('||ads.example^');
    expect(l.block.match('a.b.ads.example')).toBe('||ads.example^');
    expect(l.block.match('imp.example')).toBe('||imp.example^');
    expect(l.block.match('only.example')).toBe('only.example');
    expect(l.block.match('sub.only.example')).toBeNull();
    expect(l.allow.match('x.good.ads.example')).toBe('||good.ads.example^');
    expect(l.block.match('tp.example')).toBeNull();
    expect(l.stats.ignored).toMatchObject({ cosmetic: 1, modifier: 2, url: 1 });
    expect(l.stats.badLines).toBe(0);
  });

  it('in an allow list every rule allows', () => {
    const l = compileList('||a.com^\nb.com\n', { kind: 'allow', format: 'auto' });
    expect(l.block.size).toBe(0);
    expect(l.allow.match('x.a.com')).toBe('||a.com^');
  });
});

describe('regular expressions', () => {
  it('/…/ lines and regex-format lists match the whole name', () => {
    const l = block('/^track[0-9]+\\./\n');
    expect(l.block.match('track12.example')).toBe('/^track[0-9]+\\./');
    expect(l.block.match('x.track12.example')).toBeNull();
    const r = block('(\\.|^)doubleclick\\.net$\n/^ad[sx]?\\./\n# comment\n', 'regex');
    expect(r.stats.blockRules).toBe(2);
    expect(r.block.match('doubleclick.net')).not.toBeNull();
    expect(r.block.match('g.doubleclick.net')).not.toBeNull();
    expect(r.block.match('ads.example')).not.toBeNull();
  });

  it('refuses catastrophic shapes with a readable reason, before compiling them', () => {
    for (const p of ['(a+)+$', '(a|ab)*c', '([a-z]+\\.)+com', '.*.*z', '(x)\\1', '(?=a).*', 'a.*b.*c', '^a|.*.*z']) {
      expect(regexSafetyProblem(p), p).not.toBeNull();
    }
    for (const p of ['^ad([sxv]?[0-9]*|system)[_.-]', '(\\.|^)example\\.com$', '^.*a.*b$', '^(.+\\.)?ex[a-z]\\.com$', 'a{2,4}b']) {
      expect(regexSafetyProblem(p), p).toBeNull();
    }
    const l = block('/(a+)+$/\n/[unclosed/\n');
    expect(l.stats.badLines).toBe(2);
    expect(l.stats.errors[0]?.message).toMatch(/nested quantifier/);
    expect(l.stats.errors[1]?.message).toMatch(/invalid regular expression/);
  });

  it('every admitted pattern stays fast on a worst-case 253-character name', () => {
    const name = `${'ab'.repeat(126)}x`;
    for (const p of ['a.*b', '^.*a.*b$', '^ad([sxv]?[0-9]*|system)[_.-]', '[a-z]*z']) {
      expect(regexSafetyProblem(p)).toBeNull();
      const re = new RegExp(p, 'i');
      const t = performance.now();
      for (let i = 0; i < 20; i++) re.test(name);
      expect((performance.now() - t) / 20, p).toBeLessThan(25); // O(n²) bound; a refused shape takes 50 ms to 27 s
    }
  });
});

describe('junk', () => {
  it('counts one error per bad line and never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), fc.constantFrom('auto', 'hosts', 'domains', 'adblock', 'regex'), (text, format) => {
      const l = compileList(text, { kind: 'block', format: format });
      const lines = text.split('\n').length;
      expect(l.stats.badLines).toBeLessThanOrEqual(lines);
      expect(l.stats.errors.length).toBe(Math.min(l.stats.badLines, 20));
    }), { numRuns: 300 });
  });

  it('splits lines across chunks, CRLF and BOM included; an endless line is one bad line', () => {
    const b = new ListBuilder({ kind: 'block', format: 'auto' });
    for (const piece of ['\uFEFF0.0.0.0 a', '.com\r\n||b.c', 'om^\r\n', 'x'.repeat(5000), 'y'.repeat(5000), '\nc.com']) b.write(piece);
    const l = b.end();
    expect(l.block.match('a.com')).toBe('a.com');
    expect(l.block.match('b.com')).toBe('||b.com^');
    expect(l.block.match('c.com')).toBe('c.com');
    expect(l.stats.badLines).toBe(1);
    expect(l.stats.lines).toBe(4);
  });
});

describe('bundled IoT threat list', () => {
  it('parses with zero bad lines and blocks the Mirai C2 names', () => {
    const l = block(readFileSync(BUNDLED_THREAT_LIST_PATH, 'utf8'));
    expect(l.stats.badLines).toBe(0);
    expect(l.stats.blockRules).toBeGreaterThan(10);
    expect(l.block.match('cnc.changeme.com')).toBe('cnc.changeme.com');
    expect(l.block.match('network.santasbigcandycane.cx')).toBe('||santasbigcandycane.cx^');
    expect(l.block.match('pool.supportxmr.com')).toBe('||supportxmr.com^');
    expect(l.block.match('changeme.com')).toBeNull();
  });
});

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,9}$/);
const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((ls) => ls.join('.'));

describe('properties of the matcher', () => {
  it('a domain added is matched; its subdomains exactly when the rule says so; unrelated names never', () => {
    fc.assert(fc.property(fc.array(domain, { minLength: 1, maxLength: 30 }), label, domain, fc.constantFrom('exact', 'adblock', 'wildcard', 'hosts'), (names, sub, other, style) => {
      const text = names.map((n) => (style === 'exact' ? n : style === 'adblock' ? `||${n}^` : style === 'wildcard' ? `*.${n}` : `0.0.0.0 ${n}`)).join('\n');
      const l = block(text);
      const set = new Set(names);
      for (const n of names) {
        expect(l.block.match(n)).not.toBeNull();
        const child = `${sub}.${n}`;
        const subtree = style === 'adblock' || style === 'wildcard';
        if (subtree) expect(l.block.match(child)).not.toBeNull();
        else if (!set.has(child)) expect(l.block.match(child)).toBeNull();
      }
      const related = names.some((n) => other === n || other.endsWith(`.${n}`));
      if (!related) expect(l.block.match(other)).toBeNull();
      const unrelated = `${other}.unrelated-tld`;
      expect(l.block.match(unrelated)).toBeNull();
    }), { numRuns: 300 });
  });

  it('a large table keeps every name (growth and rehash)', () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `h${i}.d${i % 97}.example`);
    const l = block(names.join('\n'));
    expect(l.stats.blockRules).toBe(20_000);
    for (let i = 0; i < names.length; i += 7) expect(l.block.match(names[i] ?? '')).toBe(names[i]);
    expect(l.block.match('h20000.d0.example')).toBeNull();
  });
});
