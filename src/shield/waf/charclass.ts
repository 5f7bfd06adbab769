/**
 * The cheap pre-filter (issue 5, point 3: "make the common case cheap"). One native regex test
 * tells whether a string holds anything a rule could care about; only then one pass over its
 * characters builds a bit mask of character classes, and each rule runs only when the mask
 * meets its trigger. Sensor readings, ids, timestamps and plain words never reach a detector.
 */

export const CC = {
  QUOTE: 1 << 0, // ' " `
  SEMI: 1 << 1, // ;
  PIPE: 1 << 2, // |
  AMP: 1 << 3, // &
  DOLLAR: 1 << 4, // $
  LT: 1 << 5, // <
  GT: 1 << 6, // >
  PAREN: 1 << 7, // ( )
  EQ: 1 << 8, // =
  HASH: 1 << 9, // #
  DASHDASH: 1 << 10, // --
  SLASH: 1 << 11, // / or \
  DOTDOT: 1 << 12, // ..
  PERCENT: 1 << 13, // %
  CTRL: 1 << 14, // NUL and other C0 controls (incl. CR/LF/TAB)
  SCHEME: 1 << 15, // ://  or  a "xxx:" that may be a URI scheme (javascript:, data:)
  STAR: 1 << 16, // *
  BRACE: 1 << 17, // { } [ ]
  KEYWORD: 1 << 18, // a word an injection needs even without metacharacters (union, select, ...)
  COLON: 1 << 19, // :
  COMMA: 1 << 20, // ,
  LOOKALIKE: 1 << 21, // fullwidth / division-slash look-alikes of . / \ (set with DOTDOT and SLASH)
} as const;

// The gate: characters no benign sensor value, id or timestamp needs. Words that matter without
// metacharacters are caught by KEYWORD_RE, which only runs on strings with a space.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this gate looks for
const GATE_RE = /[\x00-\x08\x0a-\x1f'"`;|&$<>()=#%*{}[\]\\/\u2215\u2044\uff0f\u2216\uff3c\uff0e]|--|\.\./;
const KEYWORD_RE = /\b(?:union|select|sleep|benchmark|waitfor|having|order\s+by|group\s+by|exec|execute|xor|declare|powershell|pwsh|iex|invoke|cmd|insert|delete|drop|update|or|and|like|between|case|when|procedure|into|load_file|outfile|char|concat)\b/i;

/** Character-class mask of `s`, or 0 when nothing in it can matter to any rule. */
export function charMask(s: string): number {
  let m = 0;
  if (s.indexOf(' ') !== -1 && KEYWORD_RE.test(s)) m |= CC.KEYWORD;
  if (!GATE_RE.test(s)) return m;
  const n = s.length;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 39:
      case 34:
      case 96:
        m |= CC.QUOTE;
        break;
      case 59:
        m |= CC.SEMI;
        break;
      case 124:
        m |= CC.PIPE;
        break;
      case 38:
        m |= CC.AMP;
        break;
      case 36:
        m |= CC.DOLLAR;
        break;
      case 60:
        m |= CC.LT;
        break;
      case 62:
        m |= CC.GT;
        break;
      case 40:
      case 41:
        m |= CC.PAREN;
        break;
      case 61:
        m |= CC.EQ;
        break;
      case 35:
        m |= CC.HASH;
        break;
      case 45:
        if (prev === 45) m |= CC.DASHDASH;
        break;
      case 47:
        m |= CC.SLASH;
        if (prev === 58) m |= CC.SCHEME;
        break;
      case 92:
        m |= CC.SLASH;
        break;
      case 46:
        if (prev === 46) m |= CC.DOTDOT;
        break;
      case 37:
        m |= CC.PERCENT;
        break;
      case 42:
        m |= CC.STAR;
        break;
      case 123:
      case 125:
      case 91:
      case 93:
        m |= CC.BRACE;
        break;
      case 58:
        m |= CC.COLON;
        break;
      case 44:
        m |= CC.COMMA;
        break;
      default:
        if (c < 32) m |= CC.CTRL;
        else if (c >= 0x2000 && (c === 0x2215 || c === 0x2044 || c === 0xff0f || c === 0x2216 || c === 0xff3c || c === 0xff0e)) {
          m |= CC.LOOKALIKE | CC.DOTDOT | CC.SLASH;
        }
    }
    prev = c;
  }
  return m;
}
