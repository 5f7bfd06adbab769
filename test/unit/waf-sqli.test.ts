/**
 * SQL-injection detector (issue 5, point 3) on real attack shapes (tautologies, UNION, error- and
 * time-based blind, stacked queries, comment obfuscation, MySQL versioned comments, hex/char
 * encodings) and on benign text: prose with apostrophes, SQL-like English, telemetry values,
 * JSON snippets, URLs, e-mail addresses, math and multilingual text. Bar: >= 95% detected, <= 1%
 * false positives; a sample knowingly missed goes in knownMisses with the reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectSqli } from '../../src/shield/waf/sqli/index.ts';
import { BENIGN_TEXT as SHARED_BENIGN_TEXT } from './helpers/benign-text.ts';

const SQLI_ATTACKS: string[] = [
  // classic tautologies
  "' or 1=1--", "' OR '1'='1", "' or 'a'='a", '" or "1"="1', "admin'--", "admin' #", "admin'/*",
  "') or ('1'='1", "') or '1'='1'--", "' or 1=1#", "' or 1=1/*", "1' or '1'='1", "x' OR 1=1 LIMIT 1--",
  "' or ''='", "' OR 'x'='x'; --", "1' or 1=1 -- -", "' or true--", "\" or true--", "or 1=1--",
  "' || '1'='1", "'='", "'-'", "' or 2>1--", "admin') or ('1'='1'--",
  // numeric context
  "1 or 1=1", "1 OR 1=1--", "1) or (1=1", "-1 or 1=1", "1 and 1=1", "10 AND 1=2", "1 or 2>1",
  // UNION based
  "1 union select 1,2,3", "' UNION SELECT NULL--", "' union all select username, password from users--",
  "-1 UNION SELECT 1,@@version,3", "1' UNION SELECT table_name FROM information_schema.tables--",
  "') UNION SELECT 1,2,3--", "0 union all select null,null,concat(user(),0x3a,database())",
  "1 UNION(SELECT 1)", "' union select load_file('/etc/passwd')--",
  // error based
  "' AND extractvalue(1,concat(0x7e,version()))--", "1 and updatexml(1,concat(0x7e,(select user())),1)",
  "' AND 1=CONVERT(int,@@version)--", "1' AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT(version(),FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)--",
  "' and exp(~(select * from (select user())a))--",
  // blind boolean / time
  "1' AND SLEEP(5)--", "1 and sleep(5)", "' OR SLEEP(5)#", "1; WAITFOR DELAY '0:0:5'--", "'; waitfor delay '00:00:10'--",
  "1' AND BENCHMARK(5000000,MD5(1))#", "1 AND (SELECT 1 FROM pg_sleep(5))", "' || pg_sleep(10)--",
  "1' AND SUBSTRING(@@version,1,1)='5", "1 AND ASCII(SUBSTRING((SELECT database()),1,1))>64",
  "' AND (SELECT COUNT(*) FROM users) > 0 --", "1' and length(database())=8#",
  "1' AND '1'='1", "1' AND '1'='2",
  // stacked queries
  "1; DROP TABLE users", "'; DROP TABLE users; --", "1; exec master..xp_cmdshell 'dir'--", "'; shutdown--",
  "1;SELECT pg_sleep(5)", "'; INSERT INTO users VALUES('hacker','x')--", "1; delete from logs",
  // comment obfuscation
  "1 UN/**/ION SEL/**/ECT 1,2", "'/**/or/**/1=1--", "1/**/union/**/select/**/1", "' UnIoN/**/sElEcT 1--",
  "1'/**/AND/**/1=1#",
  // MySQL versioned comments
  "1 /*!50000UNION*/ /*!50000SELECT*/ 1,2", "'/*!or*/1=1--", "1/*!UNION*/SELECT 1",
  // hex/char encodings
  "' or username=0x61646d696e--", "1 union select char(97,100,109,105,110)", "' or 1=0x31--",
  "1 and 1=char(49)", "' union select concat(0x3c,user(),0x3e)--",
  // order by / having / into outfile
  "1' ORDER BY 1--+", "' ORDER BY 10--", "1 order by 3--", "' HAVING 1=1--", "' GROUP BY columnnames having 1=1 --",
  "' INTO OUTFILE '/tmp/x'--",
  // sqlmap boundary-less templates and fragments
  "1 (SELECT (CASE WHEN (4821=4821) THEN 1 ELSE 0 END))", "1 ,(SELECT 1 FROM DUAL)", "1 ELT(4821=4821,1)",
  "1' OR NOT 4821=4821 AND 'qXbV'='qXbV", "1 OR NOT 4821=4821", "1 ,RAISE_ERROR('70001','x'||(SELECT 1))",
  "1) BEGIN IF (1=1) THEN DBMS_LOCK.SLEEP(5); END IF; END;-- -", "(SELECT CONCAT('a',(ELT(1=1,1)),'b'))",
  " and 1=1", "or 1=1", "order by 1--", "sleep(5)#1", "benchmark(10000000,MD5(1))#1", "abc`,sleep(5)#1",
  "t'exec master..xp_cmdshell 'nslookup example.com'--", "1' (4821=4821)*4821 AND 'qXbV'='qXbV",
  // UNION with a leading junk value, newline comments and parentheses (libinjection's "hackers" set, decoded)
  "1a union (select id from users limit 1,1)", "/* BAR */ UNION ALL SELECT (2,3,4)", "(select id from users limit 1,1)",
  "-1#\n union (select id from users limit 1,1)", "-1 --eafafeas\nunion (select id from users limit 1,1)",
  "-1 union(((select table_name from information_schema.tables limit 1,1)))", "'||UTL_HTTP.REQUEST", "--sp_password",
  // knowingly missed (see knownMisses)
  "1) from users where username='ad1min')", "'test--", " and USER=USER",
];

const BENIGN_TEXT: string[] = [
  ...SHARED_BENIGN_TEXT,
  // adversarial: quotes, parentheses and keywords in ordinary sentences
  "1 (one) item", "Step 1 (optional)", "1) (a) first", "it's 'select' time", "'quoted', (parenthetical)",
  "x' (y)", "'exec' button", "Press 'Delete' to remove", "Room 1 (east wing)", "'(1)'", "'Or' is a word",
  "Choose 'yes' or 'no'", "Type 'exit' or press Ctrl-C", "O'Neil & O'Brien", "Drop by at 5; select a time",
  "Sleep (mode)", "workers union select a leader", "Please select a union representative", "(select one)", "To \"grant\" such a licence to a party", "I'm 5'11\" tall", "Mike's \"best\" (ever) -- ok",
];

/** Attacks this detector does not flag, each with why; the test fails if one starts to be caught
 * (move it back) or if any other attack is missed. */
const knownMisses = new Set<string>([
  // The middle of a query, not a break-out: no fingerprint shape separates "x) from users where
  // name='y')" from a parenthesised sentence with a quote.
  "1) from users where username='ad1min')",
  // Quote, word, comment: the same shape as "don't -- really", which must stay clean.
  "'test--",
  // USER is a function name here and "and f = f" is also how prose like "and Fn=Fn" reads.
  " and USER=USER",
]);

describe('detectSqli', () => {
  it('has enough real samples', () => {
    expect(SQLI_ATTACKS.length).toBeGreaterThanOrEqual(60);
    expect(BENIGN_TEXT.length).toBeGreaterThanOrEqual(100);
  });

  it.each(SQLI_ATTACKS.filter((s) => !knownMisses.has(s)))('detects %s', (s) => {
    const r = detectSqli(s);
    expect(r.detected).toBe(true);
    expect(r.fingerprint).toMatch(/^[a-zA-Z0-9&();,.:{}?\\]{1,5}$/);
  });

  it('misses only the known misses, and detects >= 95%', () => {
    const missed = SQLI_ATTACKS.filter((s) => !detectSqli(s).detected);
    expect(missed.sort()).toEqual([...knownMisses].sort());
    expect(1 - missed.length / SQLI_ATTACKS.length).toBeGreaterThanOrEqual(0.95);
  });

  it.each(BENIGN_TEXT)('does not flag %s', (s) => {
    expect(detectSqli(s)).toEqual({ detected: false });
  });

  it('fingerprints the classic tautology as libinjection does', () => {
    expect(detectSqli("' or 1=1--").fingerprint).toBe('s&1c');
    expect(detectSqli('1 union select 1,2,3').fingerprint).toBe('1UE1');
  });

  it('never throws and stays bounded on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const r = detectSqli(s);
        expect(typeof r.detected).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom("'", '"', '`', '(', ')', '/*', '*/', '--', '#', ' or ', '1', '=', 'union', 'select', ';', '@@', '\\', 'x'), { maxLength: 60 }), (parts) => {
        expect(typeof detectSqli(parts.join('')).detected).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('handles 1 MB inputs', () => {
    const mb = 1 << 20;
    const inputs = ["' or 1=1 -- ".repeat(mb / 12), '('.repeat(mb), "'".repeat(mb), '/*'.repeat(mb / 2), 'a '.repeat(mb / 2), '日本'.repeat(mb / 2),
      '/* '.repeat(mb / 3), "' or ".repeat(mb / 5), '@@'.repeat(mb / 2), 'union select '.repeat(mb / 13)];
    for (const s of inputs) expect(typeof detectSqli(s).detected).toBe('boolean');
    expect(detectSqli("x".repeat(mb) + "' or 1=1--").detected).toBe(true);
  });
});
