/**
 * Folding of the SQL token stream into at most five tokens, in the manner libinjection describes:
 * leading comments, '(' and unary operators are skipped; adjacent strings merge ("ss" -> "s");
 * arithmetic collapses ("1+1" -> "1", "n.n" -> "n"); unary operators after operators vanish;
 * repeated parentheses and semicolons fold; word pairs merge into phrases ("UNION ALL").
 * A trailing comment is kept as the last token. The type letters of what remains are the
 * fingerprint, e.g. "' or 1=1 --" in single-quote context folds to s & 1 c -> "s&1c".
 */
import { phraseType } from './keywords.ts';
import type { SqlTokenizer, Token } from './tokenizer.ts';

export const MAX_TOKENS = 5;
/** Work bound: raw tokens read per fold, so a 1 MB input costs no more than a short one. */
const MAX_RAW_TOKENS = 200;

function isUnary(t: Token): boolean {
  if (t.type !== 'o') return false;
  return t.val === '+' || t.val === '-' || t.val === '!' || t.val === '~' || t.val === '!!' || t.val === 'NOT';
}
function isArith(t: Token): boolean {
  return t.type === 'o' && (t.val === '*' || t.val === '/' || t.val === '-' || t.val === '+' || t.val === '%');
}

const MERGE_A = new Set(['k', 'n', 'o', 'U', 'f', 'E', 't']);
const MERGE_B = new Set(['k', 'n', 'o', 't', '&', 'f', 'U', 'E']);
/** Words that are functions when followed by '(' although usually names (T-SQL, MySQL). */
const FUNC_IF_PAREN = new Set(['USER_ID', 'USER_NAME', 'DATABASE', 'PASSWORD', 'USER', 'CURRENT_USER',
  'CURRENT_DATE', 'CURRENT_TIME', 'CURRENT_TIMESTAMP', 'LOCALTIME', 'LOCALTIMESTAMP']);

function mergeWords(a: Token, b: Token): boolean {
  if (!MERGE_A.has(a.type) || !MERGE_B.has(b.type)) return false;
  const t = phraseType(a.val, b.val);
  if (t === undefined) return false;
  a.type = t;
  a.val = `${a.val} ${b.val}`;
  return true;
}

export interface Folded {
  tokens: Token[];
  fingerprint: string;
}

export function fold(tz: SqlTokenizer): Folded {
  const v: Token[] = [];
  let lastComment: Token | null = null;
  let more = true;
  const read = (): Token | null => {
    if (tz.count >= MAX_RAW_TOKENS) { more = false; return null; }
    const t = tz.next();
    if (t === null) more = false;
    return t;
  };

  // Skip leading comments, '(' , SQL types and unary operators.
  let first: Token | null = null;
  while (more) {
    first = read();
    if (first === null) break;
    if (!(first.type === 'c' || first.type === '(' || first.type === 't' || isUnary(first))) break;
    first = null;
  }
  if (first === null) return { tokens: [], fingerprint: '' };
  v[0] = first;
  let pos = 1;
  let left = 0;

  const pull = (upto: number): void => {
    while (more && pos <= MAX_TOKENS && pos - left < upto) {
      const t = read();
      if (t === null) break;
      if (t.type === 'c') lastComment = t;
      else { lastComment = null; v[pos++] = t; }
    }
  };
  const T = (i: number): string => v[i]?.type ?? '';

  for (let guard = 0; guard < 1000; guard++) {
    if (pos >= MAX_TOKENS) {
      // Special 5-token shapes that fold further: 1o(1) / n o(n) / 1),(1 .
      const a = T(0), b = T(1), c = T(2), d = T(3), e = T(4);
      if ((a === '1' && (b === 'o' || b === ',') && c === '(' && d === '1' && e === ')')
        || (a === 'n' && b === 'o' && c === '(' && (d === 'n' || d === '1') && e === ')')
        || (a === '1' && b === ')' && c === ',' && d === '(' && e === '1')) {
        if (pos > MAX_TOKENS) { v[1] = v[MAX_TOKENS]!; pos = 2; } else pos = 1;
        left = 0;
      }
    }
    if (!more || left >= MAX_TOKENS) { left = pos; break; }

    pull(2);
    if (pos - left < 2) { left = pos; continue; }
    const x = v[left]!;
    const y = v[left + 1]!;
    if (x.type === 's' && y.type === 's') { pos--; continue; }
    if (x.type === ';' && y.type === ';') { pos--; continue; }
    if (x.type === ';' && y.type === 'f' && y.val === 'IF') { y.type = 'T'; left += 2; continue; }
    if ((x.type === 'o' || x.type === '&') && (isUnary(y) || y.type === 't')) { pos--; left = 0; continue; }
    if (x.type === '(' && isUnary(y)) { pos--; if (left > 0) left--; continue; }
    if (mergeWords(x, y)) {
      v.splice(left + 1, 1);
      pos--;
      if (left > 0) left--;
      continue;
    }
    if ((x.type === 'n' || x.type === 'v') && y.type === '(' && FUNC_IF_PAREN.has(x.val)) { x.type = 'f'; continue; }
    if (x.type === 'k' && (x.val === 'IN' || x.val === 'NOT IN')) { x.type = y.type === '(' ? 'o' : 'n'; continue; }
    if (x.type === 'o' && (x.val === 'LIKE' || x.val === 'NOT LIKE') && y.type === '(') {
      x.type = 'f';
    } else if (x.type === 't' && 'n1t(fvs'.includes(y.type)) {
      v[left] = y; pos--; left = 0; continue;
    } else if (x.type === 'A' && y.type === 'n') {
      if (y.val.includes('_')) { y.type = 't'; left = 0; }
    } else if (x.type === '\\') {
      if (isArith(y)) x.type = '1';
      else { v[left] = y; pos--; }
      left = 0;
      continue;
    } else if ((x.type === '(' && y.type === '(') || (x.type === ')' && y.type === ')')) {
      pos--; left = 0; continue;
    } else if (x.type === '{' && y.type === 'n') {
      if (y.len === 0) { y.type = 'X'; left += 2; pos = left; break; }
      left = 0; pos -= 2; continue;
    } else if (y.type === '}') {
      pos--; left = 0; continue;
    }

    pull(3);
    if (pos - left < 3) { left = pos; continue; }
    const a = v[left]!.type;
    const b = v[left + 1]!;
    const c = v[left + 2]!.type;
    if (a === '1' && b.type === 'o' && c === '1') { pos -= 2; left = 0; continue; }
    if (a === 'o' && b.type !== '(' && c === 'o') { pos -= 2; left = 0; continue; }
    if (a === '&' && c === '&') { pos -= 2; left = 0; continue; }
    if (a === 'v' && b.type === 'o' && (c === 'v' || c === '1' || c === 'n')) { pos -= 2; left = 0; continue; }
    if ((a === 'n' || a === '1') && b.type === 'o' && (c === '1' || c === 'n')) { pos -= 2; left = 0; continue; }
    if ('n1vs'.includes(a) && b.type === 'o' && b.val === '::' && c === 't') { pos -= 2; left = 0; continue; }
    if ('n1sv'.includes(a) && b.type === ',' && '1nsv'.includes(c)) { pos -= 2; left = 0; continue; }
    if ('EB,'.includes(a) && isUnary(b) && c === '(') { v[left + 1] = v[left + 2]!; pos--; left = 0; continue; }
    if ('kEB'.includes(a) && isUnary(b) && '1nvsf'.includes(c)) { v[left + 1] = v[left + 2]!; pos--; left = 0; continue; }
    if (a === ',' && isUnary(b) && '1nvs'.includes(c)) { v[left + 1] = v[left + 2]!; left = 0; pos -= 3; continue; }
    if (a === ',' && isUnary(b) && c === 'f') { v[left + 1] = v[left + 2]!; pos--; left = 0; continue; }
    if (a === 'n' && b.type === '.' && c === 'n') { pos -= 2; left = 0; continue; }
    if (a === 'E' && b.type === '.' && c === 'n') { v[left + 1] = v[left + 2]!; pos--; left = 0; continue; }
    left++;
  }

  if (left < MAX_TOKENS && lastComment !== null) v[left++] = lastComment;
  if (left > MAX_TOKENS) left = MAX_TOKENS;
  const tokens = v.slice(0, left);
  let fp = '';
  for (const t of tokens) fp += t.type;
  // Evil anywhere: the whole fingerprint is 'X'.
  if (fp.includes('X')) fp = 'X';
  return { tokens, fingerprint: fp };
}
