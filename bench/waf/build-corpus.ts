/**
 * Builds the labelled WAF corpus in data/waf/ (issue 5, point 4). Attack lists come from
 * Debian packages (wfuzz, wapiti, sqlmap) extracted under --src; benign sets are generated with
 * a seeded PRNG from Debian word lists and licence texts (see data/waf/README.md). Re-running it
 * with the same packages gives the same files.
 *
 *   mkdir -p /tmp/wafsrc && cd /tmp/wafsrc && apt-get download wfuzz wapiti sqlmap wamerican \
 *     wfrench wngerman witalian wspanish && for f in *.deb; do dpkg-deb -x "$f" ex; done
 *   node bench/waf/build-corpus.ts --src /tmp/wafsrc/ex
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRce, generateSsrf, generateXss } from './generate-attacks.ts';
import { generateApi, generateTelemetry, generateText } from './generate-benign.ts';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'data', 'waf');
const srcIdx = process.argv.indexOf('--src');
const src = srcIdx === -1 ? '/tmp/wafsrc/ex' : (process.argv[srcIdx + 1] ?? '');

const lines = (p: string): string[] =>
  readFileSync(join(src, p), 'latin1').split(/\r?\n/).filter((l) => l.trim().length > 0 && !l.startsWith('#'));

function write(name: string, items: unknown[]): void {
  const uniq = [...new Set(items.map((s) => JSON.stringify(s)))];
  mkdirSync(dirname(join(out, name)), { recursive: true });
  writeFileSync(join(out, name), uniq.join('\n') + '\n');
  console.log(`${name}: ${uniq.length}`);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** wapiti placeholders: [VALUE] an ordinary value, [TIME] seconds, [LF]/[TAB] characters. */
function wapiti(s: string): string | null {
  if (/\[(?:EXTERNAL_ENDPOINT|FILE_NAME|EXTVALUE)\]/.test(s)) return null;
  return s.replace(/\[TIMEOUT\]$/, '').replace(/\[VALUE\]|\[DIRVALUE\]/g, 'abc').replace(/\[TIME\]/g, '5')
    .replace(/\[LF\]/g, '\n').replace(/\[TAB\]/g, '\t').replace(/\\0/g, '\0');
}

// ---- SQLi ---------------------------------------------------------------------------------
const W = 'usr/share/wfuzz/wordlist';
const WA = 'usr/lib/python3/dist-packages/wapitiCore/data/attacks';
const sqli: string[] = [...lines(`${W}/Injections/SQL.txt`), ...lines(`${W}/vulns/sql_inj.txt`)];
for (const l of lines(`${WA}/blindSQLPayloads.txt`)) {
  const v = wapiti(l);
  if (v !== null) sqli.push(v);
}
// sqlmap test payloads, placeholders filled as sqlmap would, under three common boundaries.
const SQLMAP = 'usr/share/sqlmap/data/xml/payloads';
const fill = (s: string): string =>
  s.replace(/\[RANDNUM\d?\]/g, '4821').replace(/\[RANDSTR\d?\]/g, 'qXbV').replace(/\[SLEEPTIME\]/g, '5')
    .replace(/\[DELIMITER_START\]/g, 'qkvzq').replace(/\[DELIMITER_STOP\]/g, 'qpjxq').replace(/\[ORIGVALUE\]/g, '1')
    .replace(/\[INFERENCE\]/g, '1=1').replace(/\[QUERY\]/g, '(SELECT 1)').replace(/\[DELAYED\]/g, 'SLEEP(5)')
    .replace(/\[GENERIC_SQL_COMMENT\]/g, '-- -').replace(/\[CHAR\]/g, 'NULL').replace(/\[COLSTART\]/g, '1')
    .replace(/\[COLSTOP\]/g, '5').replace(/\[UNION\]/g, 'UNION ALL SELECT NULL,NULL').replace(/\[[A-Z_]+\]/g, '1')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/&quot;/g, '"');
const boundaries: [string, string][] = [['1 ', ''], ["1' ", " AND 'qXbV'='qXbV"], ['1) ', '-- -']];
for (const f of ['boolean_blind', 'error_based', 'inline_query', 'stacked_queries', 'time_blind']) {
  const xml = readFileSync(join(src, SQLMAP, `${f}.xml`), 'utf8');
  const tests = xml.split('<test>').slice(1);
  for (const t of tests) {
    const p = /<payload>([\s\S]*?)<\/payload>/.exec(t)?.[1];
    if (p === undefined || p.trim() === '') continue;
    const b = boundaries[tests.indexOf(t) % boundaries.length] ?? ['', ''];
    sqli.push(f === 'inline_query' ? fill(p) : b[0] + fill(p) + b[1]);
  }
}
// Probes are left out: punctuation alone (', --, =%20;, <>"'%;)(&+ ...: fewer than two letters or
// digits once percent-decoded) and bare words ("select", "order by", "asc"). They look for error
// messages or reflected keywords, carry no statement, and no detector (libinjection included)
// flags them without flagging ordinary text.
const alnum = (s: string): number => (decodeURIComponentSafe(s).match(/[A-Za-z0-9]/g) ?? []).length;
// Also left out: bare numbers (overflow probes: 999999999999999999, 1e100) and the LDAP filter
// injections wfuzz keeps in its SQL list (*(|(mail=*)), another attack class.
const ldap = (s: string): boolean => /^\*\(\|\(/.test(decodeURIComponentSafe(s));
write('attacks/sqli.jsonl', sqli.filter((s) => alnum(s) >= 2 && !/^[A-Za-z ]+$/.test(s) && !/^[\d.e+-]+$/i.test(s) && !ldap(s)));

// ---- XSS ----------------------------------------------------------------------------------
const xss: string[] = [...lines(`${W}/Injections/XSS.txt`)];
for (const l of readFileSync(join(src, WA, 'xssPayloads.ini'), 'utf8').split('\n')) {
  const m = /^payload = (.*)$/.exec(l);
  if (m?.[1] !== undefined) xss.push(m[1].replace(/__XSS__/g, 'x5s7').replace(/\[LF\]/g, '\n').replace(/\[TAB\]/g, '\t').replace(/\[FF\]/g, '\f')
    // wapiti's xss_utils.py fills these with the separator the reflection context needs.
    .replace(/\[ATTR_SEP\]/g, '/').replace(/\[VALUE_SEP\]/g, ''));
}
xss.push(...generateXss(20261202, 400));
write('attacks/xss.jsonl', xss);

// ---- RCE ----------------------------------------------------------------------------------
const rce: string[] = [];
for (const l of lines(`${WA}/execPayloads.txt`)) {
  const v = wapiti(l);
  if (v !== null && !/^(?:set|env)$/.test(v)) rce.push(v); // bare words are not injections
}
for (const l of lines(`${W}/Injections/All_attack.txt`)) if (/[;|`&].{0,4}\b(?:id|dir|ls|netstat|read|cat)\b/.test(l)) rce.push(l);
rce.push(...generateRce(20261201, 600));
write('attacks/rce.jsonl', rce);

// ---- LFI ----------------------------------------------------------------------------------
// wfuzz's traversal lists end in a {FILE} placeholder for the file to fetch: filled with one.
const lfi: string[] = [
  ...lines(`${W}/vulns/dirTraversal.txt`), ...lines(`${W}/vulns/dirTraversal-nix.txt`),
  ...lines(`${W}/vulns/dirTraversal-win.txt`), ...lines(`${W}/Injections/Traversal.txt`),
].map((l) => l.replace(/\{FILE\}/g, 'etc/passwd'));
for (const l of readFileSync(join(src, WA, 'fileHandlingPayloads.ini'), 'utf8').split('\n')) {
  const m = /^payload = (.*)$/.exec(l);
  const v = m?.[1] === undefined ? null : wapiti(m[1]);
  if (v !== null) lfi.push(v);
}
write('attacks/lfi.jsonl', lfi);

// ---- SSRF ---------------------------------------------------------------------------------
write('attacks/ssrf.jsonl', generateSsrf());

// ---- benign -------------------------------------------------------------------------------
const dict = (p: string): string[] => readFileSync(join(src, p), 'utf8').split('\n').filter((w) => /^\p{L}{3,12}$/u.test(w));
const words = {
  en: dict('usr/share/dict/american-english'),
  fr: dict('usr/share/dict/french'),
  de: dict('usr/share/dict/ngerman'),
  it: dict('usr/share/dict/italian'),
  es: dict('usr/share/dict/spanish'),
};
const licences = ['Apache-2.0', 'GPL-3', 'MPL-2.0', 'Artistic', 'LGPL-2.1'].map((f) => readFileSync(`/usr/share/common-licenses/${f}`, 'utf8'));
write('benign/telemetry.jsonl', generateTelemetry(7, 6000, words, licences));
write('benign/api.jsonl', generateApi(11, 3000, words));
write('benign/text.jsonl', generateText(13, 4000, words, licences));
