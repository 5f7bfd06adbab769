/**
 * SQL tokenizer in the manner libinjection describes: one pass over the input producing typed
 * tokens (see keywords.ts for the type letters). It understands quoted strings with doubled or
 * backslash-escaped quotes, numbers (decimal, float, exponent, 0x hex, 0b binary, x'..', b'..'),
 * MySQL/ANSI comments (`--`, `#`, C-style; MySQL versioned and nested comments are 'X', evil),
 * operators, variables (@x, @@x), bracketed and back-ticked names, and keyword classes.
 *
 * Context: `quote` is the quote the input is assumed to start inside ('' none, "'" or '"'): an
 * injection usually breaks out of a quoted literal, so the first token is then the rest of that
 * literal. `mysql` switches `#` to a comment and `--x` (no space) to two minus operators.
 */
import { OPERATORS2, wordType, type TokenType } from './keywords.ts';

export interface Token {
  type: TokenType;
  /** Upper-cased for words and operators, raw for strings; at most 32 characters kept. */
  val: string;
  /** Offset in the input. */
  pos: number;
  /** Length of the token's text in the input. */
  len: number;
  /** Opening/closing quote for strings ('' when simulated or missing). */
  open: string;
  close: string;
}

const MAX_VAL = 32;

function isWhite(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0 || c === 160;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** Characters that end a word (libinjection's delimiter set; '.' and '`' handled separately). */
const WORD_END = new Uint8Array(128);
for (const ch of ' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"`') WORD_END[ch.charCodeAt(0)] = 1;
WORD_END[0] = 1;
/** Characters that end a variable name (@x, @@x); unlike words, brackets and braces do not. */
const VAR_END = new Uint8Array(128);
for (const ch of ' <>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r`"') VAR_END[ch.charCodeAt(0)] = 1;
VAR_END[0] = 1;

function wordEnds(c: number): boolean {
  return c < 128 ? WORD_END[c] === 1 : c === 160;
}

export class SqlTokenizer {
  readonly s: string;
  readonly quote: string;
  readonly mysql: boolean;
  pos = 0;
  /** Raw tokens produced (before folding), as libinjection's stats_tokens. */
  count = 0;
  /** A `#` or `--x` comment was seen: worth re-parsing as MySQL. */
  sawMysqlComment = false;

  constructor(s: string, quote: string, mysql: boolean) {
    this.s = s;
    this.quote = quote;
    this.mysql = mysql;
  }

  private tok(type: TokenType, pos: number, len: number, val?: string): Token {
    this.count++;
    return { type, val: val ?? this.s.slice(pos, pos + Math.min(len, MAX_VAL)), pos, len, open: '', close: '' };
  }

  next(): Token | null {
    const s = this.s;
    const n = s.length;
    if (this.pos === 0 && this.quote !== '' && this.count === 0) {
      return this.string(0, this.quote, 0);
    }
    while (this.pos < n) {
      const p = this.pos;
      const c = s.charCodeAt(p);
      if (isWhite(c)) { this.pos++; continue; }
      switch (c) {
        case 39: case 34: return this.string(p, s[p]!, 1); // ' "
        case 96: return this.tick(p); // `
        case 40: case 41: case 44: case 59: case 123: case 125: // ( ) , ; { }
          this.pos = p + 1;
          return this.tok(s[p] as TokenType, p, 1);
        case 46: // .
          if (p + 1 < n && isDigit(s.charCodeAt(p + 1))) return this.number(p);
          this.pos = p + 1;
          return this.tok('.', p, 1);
        case 64: return this.variable(p); // @
        case 35: // #
          this.sawMysqlComment = true;
          if (this.mysql) return this.eolComment(p);
          this.pos = p + 1;
          return this.tok('o', p, 1);
        case 45: return this.dash(p); // -
        case 47: return this.slash(p); // /
        case 92: // backslash; MySQL's \N is NULL
          if (s.charCodeAt(p + 1) === 78) { this.pos = p + 2; return this.tok('1', p, 2); }
          this.pos = p + 1;
          return this.tok('\\', p, 1);
        case 91: return this.bracketWord(p); // [
        case 33: case 37: case 38: case 42: case 43: case 58: case 60: case 61: case 62:
        case 94: case 124: case 126: // ! % & * + : < = > ^ | ~
          return this.operator(p);
        case 36: return this.money(p); // $
        default:
          if (isDigit(c)) return this.number(p);
          if (c < 128 && !isWordStart(c)) { this.pos = p + 1; return this.tok('?', p, 1); }
          return this.word(p);
      }
    }
    return null;
  }

  /** A quoted literal starting at `p`; `skip` is 1 for a real opening quote, 0 for a simulated one. */
  private string(p: number, delim: string, skip: number): Token {
    const s = this.s;
    const n = s.length;
    let q = s.indexOf(delim, p + skip);
    while (q !== -1) {
      // Odd number of backslashes before the quote: escaped.
      let b = q - 1;
      while (b >= p + skip && s.charCodeAt(b) === 92) b--;
      if (((q - 1 - b) & 1) === 1) { q = s.indexOf(delim, q + 1); continue; }
      if (s[q + 1] === delim) { q = s.indexOf(delim, q + 2); continue; } // '' doubled
      break;
    }
    const start = p + skip;
    const end = q === -1 ? n : q;
    const t = this.tok('s', start, end - start);
    t.open = skip ? delim : '';
    t.close = q === -1 ? '' : delim;
    this.pos = q === -1 ? n : q + 1;
    return t;
  }

  private tick(p: number): Token {
    const t = this.string(p, '`', 1);
    const up = t.val.toUpperCase();
    t.type = wordType(up) === 'f' ? 'f' : 'n';
    t.val = up;
    return t;
  }

  private eolComment(p: number): Token {
    const nl = this.s.indexOf('\n', p);
    const end = nl === -1 ? this.s.length : nl;
    this.pos = nl === -1 ? end : nl + 1;
    return this.tok('c', p, end - p);
  }

  private dash(p: number): Token {
    const s = this.s;
    const n = s.length;
    if (s.charCodeAt(p + 1) === 45) {
      // `--` then whitespace or end: a comment everywhere; `--x`: a comment in ANSI, two minus in MySQL.
      if (p + 2 >= n || isWhite(s.charCodeAt(p + 2))) return this.eolComment(p);
      this.sawMysqlComment = true;
      if (!this.mysql) return this.eolComment(p);
    }
    this.pos = p + 1;
    return this.tok('o', p, 1, '-');
  }

  private slash(p: number): Token {
    const s = this.s;
    if (s.charCodeAt(p + 1) !== 42) return this.operator(p);
    const close = s.indexOf('*/', p + 2);
    const end = close === -1 ? s.length : close + 2;
    // MySQL versioned comments /*! ... */ execute their content and nested /* breaks parsers
    // that disagree about nesting (PostgreSQL nests): both are 'X', unparseable.
    const inner = s.slice(p + 2, close === -1 ? s.length : close);
    const evil = s.charCodeAt(p + 2) === 33 || inner.includes('/*');
    this.pos = end;
    return this.tok(evil ? 'X' : 'c', p, end - p);
  }

  private operator(p: number): Token {
    const s = this.s;
    if (s.startsWith('<=>', p)) { this.pos = p + 3; return this.tok('o', p, 3); }
    const two = s.slice(p, p + 2);
    if (two.length === 2 && OPERATORS2.has(two)) {
      this.pos = p + 2;
      return this.tok(two === '&&' || two === '||' ? '&' : 'o', p, 2);
    }
    this.pos = p + 1;
    if (s[p] === ':') return this.tok(':', p, 1);
    return this.tok('o', p, 1);
  }

  private variable(p: number): Token {
    const s = this.s;
    let q = p + 1;
    if (s.charCodeAt(q) === 64) q++;
    const c = s.charCodeAt(q);
    if (c === 96 || c === 39 || c === 34) {
      const t = this.string(q, s[q]!, 1);
      t.type = 'v';
      return t;
    }
    let e = q;
    while (e < s.length) {
      const d = s.charCodeAt(e);
      if (d < 128 ? VAR_END[d] === 1 : d === 160) break;
      e++;
    }
    this.pos = e;
    return this.tok('v', q, e - q, s.slice(q, Math.min(e, q + MAX_VAL)).toUpperCase());
  }

  private bracketWord(p: number): Token {
    const close = this.s.indexOf(']', p);
    const end = close === -1 ? this.s.length : close + 1;
    this.pos = end;
    return this.tok('n', p, end - p);
  }

  private money(p: number): Token {
    const s = this.s;
    let e = p + 1;
    while (e < s.length && (isDigit(s.charCodeAt(e)) || s[e] === '.' || s[e] === ',')) e++;
    if (e > p + 1) { this.pos = e; return this.tok('1', p, e - p); }
    if (s[p + 1] === '$') {
      // PostgreSQL dollar-quoted string $$...$$
      const close = s.indexOf('$$', p + 2);
      const t = this.tok('s', p + 2, (close === -1 ? s.length : close) - p - 2);
      t.open = '$';
      t.close = close === -1 ? '' : '$';
      this.pos = close === -1 ? s.length : close + 2;
      return t;
    }
    return this.word(p);
  }

  private number(p: number): Token {
    const s = this.s;
    const n = s.length;
    let e = p;
    const c1 = s.charCodeAt(p + 1);
    if (s.charCodeAt(p) === 48 && (c1 === 120 || c1 === 88 || c1 === 98 || c1 === 66)) {
      const hex = c1 === 120 || c1 === 88;
      e = p + 2;
      while (e < n && (hex ? isHex(s.charCodeAt(e)) : s[e] === '0' || s[e] === '1')) e++;
      if (e === p + 2) { this.pos = e; return this.tok('n', p, 2); }
      this.pos = e;
      return this.tok('1', p, e - p);
    }
    while (e < n && isDigit(s.charCodeAt(e))) e++;
    let dot = false;
    if (s[e] === '.') { dot = true; e++; while (e < n && isDigit(s.charCodeAt(e))) e++; }
    let hasE = false;
    let hasExp = false;
    if (s[e] === 'e' || s[e] === 'E') {
      hasE = true;
      e++;
      if (s[e] === '+' || s[e] === '-') e++;
      while (e < n && isDigit(s.charCodeAt(e))) { hasExp = true; e++; }
    }
    // Oracle float/double suffix: 1.2f, 1d; '1fUNION' reads as '1f UNION'.
    const suf = s[e];
    if (suf === 'd' || suf === 'D' || suf === 'f' || suf === 'F') {
      const after = s.charCodeAt(e + 1);
      if (e + 1 === n || isWhite(after) || after === 59 || after === 117 || after === 85) e++;
    }
    this.pos = e;
    if (dot && hasE && !hasExp) return this.tok('n', p, e - p);
    return this.tok('1', p, e - p);
  }

  private word(p: number): Token {
    const s = this.s;
    const n = s.length;
    // x'4142' hex, b'0101' binary, N'..'/E'..' national/escaped strings.
    const c = s.charCodeAt(p) | 0x20;
    if (s.charCodeAt(p + 1) === 39) {
      if (c === 120 || c === 98) {
        let e = p + 2;
        while (e < n && (c === 120 ? isHex(s.charCodeAt(e)) : s[e] === '0' || s[e] === '1')) e++;
        if (s.charCodeAt(e) === 39) { this.pos = e + 1; return this.tok('1', p, e + 1 - p); }
      } else if (c === 110 || c === 101) {
        const t = this.string(p + 1, "'", 1);
        return t;
      }
    }
    let e = p;
    while (e < n && !wordEnds(s.charCodeAt(e))) e++;
    // "SELECT.1": a keyword directly followed by '.' ends at it.
    const dot = s.indexOf('.', p);
    if (dot !== -1 && dot < e && dot - p <= MAX_VAL) {
      const head = s.slice(p, dot).toUpperCase();
      const t = wordType(head);
      if (t !== undefined) {
        this.pos = dot;
        return this.tok(t, p, dot - p, head);
      }
    }
    this.pos = e;
    const up = s.slice(p, Math.min(e, p + MAX_VAL)).toUpperCase();
    const t = e - p <= MAX_VAL ? wordType(up) : undefined;
    // A name glued to '(' is a call, also of functions the table does not list (RAISE_ERROR).
    return this.tok(t ?? (s.charCodeAt(e) === 40 && e - p > 1 ? 'f' : 'n'), p, e - p, up);
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}
function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
