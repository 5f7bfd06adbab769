/**
 * Decides whether a folded fingerprint (fold.ts) is SQL injection. The fingerprint set is our own,
 * derived from attack samples (test/unit/waf-sqli.test.ts) and written as a small grammar over
 * the type letters instead of a list of thousands of literal fingerprints:
 *
 *   value  = s | 1 | n | v        (what an injection breaks out of: a string, number or name)
 *   break  = value ')'*           (closing the surrounding literal and any parentheses)
 *   then SQLi when break is followed by
 *     - a set operator and a SELECT:             sUE  1UE  s)UE
 *     - a stacked statement:                     s;E  1;E  s);T
 *     - a logic/comparison operator and a value that is compared, called, or truncated:
 *                                                s&1o  s&sos  1&1 (folded)  s&f(  s&(E  1o(E
 *     - a trailing comment right after a string: sc  s)c
 *     - ORDER/GROUP BY, HAVING, LIMIT:           sB1c  1B1c
 * plus the whitelist cases libinjection documents for very short fingerprints (a bare "1&1" of
 * three raw tokens is "17 and 18", not SQL), and 'X' (versioned or nested comment) always.
 */
import type { Token } from './tokenizer.ts';

export interface FoldResult {
  fingerprint: string;
  tokens: Token[];
  /** Raw tokens read before folding. */
  raw: number;
  /** The context the input was read in: '' as-is, or the quote it is assumed to start inside. */
  quote: string;
  /** The input read. */
  input: string;
}

const BREAK = /^([s1nv])\)*/;
/** What may follow a logic or comparison operator in an injected condition. */
const CONDITION_TAIL = /^(?:[1sv](?:[o&)cB(]|$)|[nf][o&)]|f[(.]|\(+[E1sfvn]|E|[1sv]?k)/;
/** Statements dangerous right after a broken literal even with a plain name after them. */
const STATEMENT = /^(?:EXEC|EXECUTE|DECLARE|SHUTDOWN|DROP |TRUNCATE|DELETE FROM|INSERT INTO)/;
const STACKED_AFTER_WORD = /^(DROP |SHUTDOWN|DELETE FROM|INSERT INTO|TRUNCATE|EXEC|DECLARE|ALTER TABLE|CREATE TABLE)/;

function isSQLi(r: FoldResult): boolean {
  const fp = r.fingerprint;
  if (fp === '') return false;
  if (fp === 'X') return true;
  const m = BREAK.exec(fp);
  if (m === null) {
    // A fragment that starts at the operator: "or 1=1--", "and sleep(5)"
    if (fp[0] === '&') return /^&(?:[1s][co]|f\(|\(+E)/.test(fp) || (/^&[1sv]$/.test(fp) && r.raw >= 4);
    // "order by 1--": a clause fragment ended by a comment
    if (fp[0] === 'B') return /^B[1n]c/.test(fp);
    // A bare statement: "SELECT * FROM", "(SELECT CONCAT(", "SELECT 'a'||..." (not "select the best")
    if (fp[0] === 'E') return /^E(?:[sv(f]|1[,&okf(]|o[k,])/.test(fp) || fp.includes('UE') || (/^Enk/.test(fp) && /^\s*\(/.test(r.input));
    // "/* x */ UNION ALL SELECT (2,3,4)": a set operator first, then a statement
    if (fp[0] === 'U') return /^U(?:E[^n]|\(+E)/.test(fp);
    return false;
  }
  const head = m[1]!;
  const rest = fp.slice(m[0].length);
  // A bareword start only counts in the as-is context (a prose word is a bareword too) and
  // needs the stronger shapes below.
  const strong = head === 's' || head === '1' || head === 'v';

  // "1a union (select ...": a value, then UNION and a statement, further in
  if (/[1snv)]U(?:E[^n]|\(+E)/.test(rest)) return true;
  // UNION [ALL] SELECT / UNION (SELECT
  // (after a plain word, "workers union select a leader" is prose: a name must not follow SELECT)
  if (head === 'n' ? /^U(?:E[^n]|\(+E)/.test(rest) : /^U[E(]/.test(rest) || (rest === 'U' && r.raw > 2)) return true;
  // Stacked query: ; followed by a statement
  if (/^;f\(/.test(rest)) return strong;
  if (/^;[ETk]/.test(rest)) return strong || STACKED_AFTER_WORD.test(r.tokens[m[0].length + 1]?.val ?? '');
  // Comment truncation after a string or a number: admin'--  1)--  1 --
  if (rest === 'c' || rest.startsWith('c')) {
    if (head === 's') return r.quote !== '' || m[0].length > 1;
    if (head === '1') return numberComment(r);
    return false;
  }
  // ORDER BY / GROUP BY / HAVING / LIMIT after a broken literal
  if (rest.startsWith('B')) {
    if (head === 's' && r.quote !== '') return true;
    return head === '1' && /^B[1n](c|$|,)/.test(rest) && r.raw > 3;
  }
  // INTO OUTFILE / DUMPFILE, WAITFOR DELAY after a value
  if (rest.startsWith('k')) {
    const k = r.tokens[m[0].length];
    return k !== undefined && (k.val.startsWith('INTO ') || k.val.startsWith('WAITFOR')) && strong;
  }
  if (rest.startsWith('&') || rest.startsWith('o')) {
    const tail = rest.slice(1);
    if (fp === 'sos' || fp === 's&s') return stringSplice(r);
    if (fp.length === 3 && r.raw === 3 && /^(s&n|n&1|1&1|1&v|1&s|1o1|non|s&1)$/.test(fp)) return false;
    // "5 > 3 and 2 < 4": the leading number was folded from a comparison, so it is arithmetic
    // prose, not a value broken out of; "1 or 1=1" has the number right before the operator.
    if ((head === '1' || head === 'n') && r.quote === '' && !adjacent(r)) return false;
    if (head === 's' && r.quote !== '' && /^nc/.test(tail)) return true;
    if (head === 'n') {
      // "cats & dogs", "a = b": prose and key=value; only a call or a subquery counts
      return /^(f\(|\(+E|E)/.test(tail) || (/^[1s]o/.test(tail) && r.raw > 4 && rest[0] === '&');
    }
    if (head === '1' && rest[0] === 'o') return /^(\(+E|E|f\()/.test(tail);
    if (head === 's' && rest[0] === 'o' && r.quote === '' && !/^(\(+E|E|f\()/.test(tail)) return false;
    return CONDITION_TAIL.test(tail);
  }
  // A subquery or call right after the value: "1 (SELECT ...", "1,(SELECT", "1 ELT(", "x' (4821=4821)"
  if (head === '1' && /^,?\(+[Ef]|^,?f\(/.test(rest)) return true;
  if (head === '1' && /^\(1\)/.test(rest) && m[0].length > 1 && r.raw > 7) return true;
  if (head === 's' && r.quote !== '' && /^,?\(+(?:E|f\(|[1sv]o|[1sv]\)o)|^,?f\(/.test(rest)) return true;
  // x' SELECT 1 / x' (SELECT ...: a statement right after the broken literal; a quoted word
  // that happens to be a keyword ('"grant" such a licence') is not.
  const stmt = r.tokens[m[0].length];
  if (rest[0] === 'E' && stmt !== undefined && STATEMENT.test(stmt.val) && head === 's' && r.quote !== '' && /^E[nf1sv]/.test(rest)) return true;
  if (/^\(*E(?:[1v(f]|ok|n[k,])/.test(rest)) return strong && head !== '1' ? r.quote !== '' : false;
  return false;
}

/** Only whitespace or ')' between the first token and the second. */
function adjacent(r: FoldResult): boolean {
  const a = r.tokens[0];
  const b = r.tokens[1];
  if (a === undefined || b === undefined) return false;
  return /^[\s)]*$/.test(r.input.slice(a.pos + a.len, b.pos));
}

/** "1--", "1 --", "1/*": a number then a comment; "1234-ABC--" (base64-ish) is not. */
function numberComment(r: FoldResult): boolean {
  if (r.raw > 2) return true;
  const c = r.tokens[1];
  if (c === undefined) return false;
  return c.val.startsWith('/*') || c.val.trim() === '--' || c.val.trim() === '#';
}

/** `x' = 'x` / `x' || 'x`: the input starts and ends inside literals (libinjection's sos case). */
function stringSplice(r: FoldResult): boolean {
  const a = r.tokens[0];
  const c = r.tokens[2];
  // ... and the tail is one short value ("x' OR 'x"), not a sentence ("'Or' is a word").
  return a !== undefined && c !== undefined && a.open === '' && c.close === '' && a.close === c.open && a.close !== ''
    && !/\s\S/.test(c.val);
}

export function decide(r: FoldResult): boolean {
  return isSQLi(r);
}
