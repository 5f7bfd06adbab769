/**
 * SQL-injection detector (issue 5, point 3), libinjection's method with our own tables:
 * tokenize (tokenizer.ts), fold to a five-token fingerprint (fold.ts), decide on the fingerprint
 * (classify.ts). The input is read in three contexts, as-is and as if it started inside a single-
 * or double-quoted literal (an injection breaks out of one), each also as MySQL when it holds a
 * MySQL-only comment. Two structural checks run on the raw tokens beside the fingerprint:
 * time/error-based functions called after an operator (`and sleep(5)`), and inline comments used
 * to split keywords (`UN/**‍/ION`), re-read with the comments removed.
 *
 * Cost: a cheap pre-filter rejects strings without any SQL-significant character or keyword
 * (most telemetry), and every context reads at most a bounded number of tokens.
 */
import type { DetectorResult } from '../types.ts';
import { decide } from './classify.ts';
import { fold } from './fold.ts';
import { worthReading } from './prefilter.ts';
import { SqlTokenizer } from './tokenizer.ts';

const LOOSE_QUOTE = /(?<!\p{L})'|'(?!\p{L})/u;
const SP_PASSWORD = /(?:--|#|\/\*)\s*sp_password/i;
/** Gate for the dangerous-call scan: one of those functions, or WAITFOR, appears at all. */
const DANGEROUS_NAMES = /sleep|benchmark|load_file|extractvalue|updatexml|xp_cmdshell|dbms_|utl_|name_const|gtid_subset|pg_read_file|sp_executesql|sp_oacreate|openrowset|randomblob|ctxsys|get_lock|master_pos_wait|json_keys|polygon|multipoint|geometrycollection|exp\s*\(|waitfor/i;

/** Functions whose call after an operator is an attack on its own (time-based, error-based, I/O). */
const DANGEROUS = new Set(['SLEEP', 'BENCHMARK', 'PG_SLEEP', 'LOAD_FILE', 'EXTRACTVALUE', 'UPDATEXML',
  'XP_CMDSHELL', 'DBMS_PIPE', 'UTL_INADDR', 'UTL_HTTP', 'NAME_CONST', 'GTID_SUBSET', 'PG_READ_FILE',
  'SP_EXECUTESQL', 'SP_OACREATE', 'OPENROWSET', 'RANDOMBLOB', 'DBMS_LOCK', 'CTXSYS', 'GET_LOCK',
  'MASTER_POS_WAIT', 'JSON_KEYS', 'POLYGON', 'MULTIPOINT', 'GEOMETRYCOLLECTION', 'EXP']);
/** Tokens after which a call is in an expression an attacker controls, not a sentence. */
const CALL_AFTER = new Set(['&', 'o', ',', '(', 'E', ';', 'k', 'B', 'U']);
/** Bound on raw tokens scanned by the structural check (fold.ts bounds its own). */
const MAX_SCAN = 256;

function fingerprintIn(s: string, quote: string, mysql: boolean): { hit: boolean; fp: string; mysqlComment: boolean } {
  const tz = new SqlTokenizer(s, quote, mysql);
  const f = fold(tz);
  const hit = decide({ fingerprint: f.fingerprint, tokens: f.tokens, raw: tz.count, quote, input: s });
  return { hit, fp: f.fingerprint, mysqlComment: tz.sawMysqlComment };
}

/** `x' and sleep(5)`, `1 or benchmark(1e7,md5(1))`, `' waitfor delay '0:0:5'`. */
function dangerousCall(s: string, quote: string): string | null {
  const tz = new SqlTokenizer(s, quote, true);
  let prev = '';
  let prevVal = '';
  let pending = '';
  let atStart = false;
  let glued = -1;
  for (let i = 0; i < MAX_SCAN; i++) {
    const t = tz.next();
    if (t === null) return null;
    if (t.type === 'c') continue;
    if (pending !== '' && t.type === '(' && (!atStart || t.pos === glued)) return pending;
    // Qualified names keep the call pending: DBMS_LOCK.SLEEP(5), DBMS_PIPE.RECEIVE_MESSAGE(...)
    if (pending !== '' && (t.type === '.' || ((t.type === 'n' || t.type === 'f') && prev === '.'))) {
      prev = t.type;
      continue;
    }
    pending = '';
    if (t.type === 'f' && DANGEROUS.has(t.val) && (CALL_AFTER.has(prev) || prev === '' || (prev === 's' && quote !== ''))) {
      pending = `${prev}f(`;
      // At the very start only "sleep(5)" counts, not "Sleep (mode)".
      atStart = prev === '';
      glued = t.pos + t.len;
    }
    if (t.type === 'k' && t.val === 'DELAY' && prevVal === 'WAITFOR') return 'kk';
    if (t.type === 's' && prevVal === 'DELAY' && prev === 'k') return 'ks';
    prev = t.type;
    prevVal = t.val;
  }
  return null;
}

function contexts(s: string): DetectorResult {
  const quotes = [''];
  // An apostrophe inside a word ("it's", "O'Brien", "l'été") breaks out of nothing a query could
  // hold around it; the single-quote context runs when some quote is not between two letters.
  if (s.includes("'") && LOOSE_QUOTE.test(s)) quotes.push("'");
  if (s.includes('"')) quotes.push('"');
  if (s.includes('`')) quotes.push('`');
  const risky = DANGEROUS_NAMES.test(s);
  for (const q of quotes) {
    const a = fingerprintIn(s, q, q === '"');
    if (a.hit) return { detected: true, fingerprint: a.fp };
    if (a.mysqlComment && q !== '"') {
      const b = fingerprintIn(s, q, true);
      if (b.hit) return { detected: true, fingerprint: b.fp };
    }
    if (risky) {
      const d = dangerousCall(s, q);
      if (d !== null) return { detected: true, fingerprint: d };
    }
  }
  return { detected: false };
}

/** The input with every complete, non-versioned C-style comment removed, in one linear pass. */
function withoutComments(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const open = s.indexOf('/*', i);
    if (open === -1) break;
    const close = s.indexOf('*/', open + 2);
    if (close === -1) break; // no later comment can close either
    if (s.charCodeAt(open + 2) === 33) { out += s.slice(i, close + 2); i = close + 2; continue; } // /*! kept
    out += s.slice(i, open);
    i = close + 2;
  }
  return i === 0 ? s : out + s.slice(i);
}

export function detectSqli(input: string): DetectorResult {
  if (input.length === 0 || !worthReading(input)) return { detected: false };
  const r = contexts(input);
  if (r.detected) return r;
  // SQL Server leaves statements whose text holds sp_password out of its trace log, so
  // attackers append it in a comment (libinjection flags the same).
  if (SP_PASSWORD.test(input)) return { detected: true, fingerprint: 'c' };
  // Keywords split by empty inline comments (UN/**/ION SEL/**/ECT) reach databases whose
  // front end strips comments first; read the input again without them.
  if (input.includes('/*')) {
    const joined = withoutComments(input);
    if (joined !== input && worthReading(joined)) return contexts(joined);
  }
  return r;
}
