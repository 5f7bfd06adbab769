/**
 * The cheap pre-filter (issue 5, point 3: "make the common case cheap"). One pass over a
 * string's characters with a table lookup builds a bit mask of character classes; each rule runs
 * only when the mask meets its trigger. Sensor readings, ids, timestamps and plain words never
 * reach a detector; a keyword regex runs only on strings with a space.
 */

export const CC = {
  QUOTE: 1 << 0, // ' " ` (a backtick also sets BACKTICK)
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
  BACKTICK: 1 << 22, // `
  SPACE: 1 << 23, // a space (only with other bits does it matter)
  HEX0X: 1 << 24, // "0x": hex notation, as in the "0x2e0x2e0x2f" traversal form
  HIGH: 1 << 25, // a byte >= 0x80 (UTF-8 beyond ASCII): only set by the JSON byte scanner
  LOOKALIKE: 1 << 21, // fullwidth / division-slash look-alikes of . / \ (set with DOTDOT and SLASH)
} as const;

// Words that carry an injection without any metacharacter ("1 union select 1", "powershell -enc
// ..."). Deliberately not "or"/"and": they are in every sentence; SQLi with them needs = ( ' too.
const KEYWORD_RE = /\b(?:union|select|sleep|benchmark|waitfor|having|exec|execute|xor|declare|insert|delete|drop|update|truncate|shutdown|procedure|load_file|outfile|powershell|pwsh|iex|invoke-\w+|cmd(?:\.exe)?|new-object|start-process)\b|%comspec%/i;

/** Class bits of each ASCII code (0 = a character no rule needs on its own). */
const TABLE = new Uint32Array(128);
/**
 * The same classes per byte, for scanning UTF-8 directly (json-scan.ts): ASCII as TABLE, every
 * byte >= 0x80 as HIGH (the scanner recognises the look-alike sequences itself).
 */
export const BYTE_CLASS = new Uint32Array(256);
(() => {
  const set = (chars: string, bit: number): void => {
    for (const ch of chars) TABLE[ch.charCodeAt(0)] = (TABLE[ch.charCodeAt(0)] ?? 0) | bit;
  };
  set('\'"', CC.QUOTE);
  set('`', CC.QUOTE | CC.BACKTICK);
  set(';', CC.SEMI);
  set('|', CC.PIPE);
  set('&', CC.AMP);
  set('$', CC.DOLLAR);
  set('<', CC.LT);
  set('>', CC.GT);
  set('()', CC.PAREN);
  set('=', CC.EQ);
  set('#', CC.HASH);
  set('/\\', CC.SLASH);
  set('%', CC.PERCENT);
  set('*', CC.STAR);
  set('{}[]', CC.BRACE);
  set(':', CC.COLON);
  for (let c = 0; c < 32; c++) if (c !== 9) TABLE[c] = CC.CTRL;
  set(' ', CC.SPACE);
  BYTE_CLASS.set(TABLE);
  BYTE_CLASS.fill(CC.HIGH, 128);
})();

// Bits that, alone, never make a string worth a rule: a space (prose), a colon (times), a comma.
const QUIET = CC.SPACE | CC.COLON | CC.COMMA | CC.HIGH;



/**
 * The raw class mask of `s` (SPACE, COLON, COMMA included; no KEYWORD yet): one pass with a table
 * lookup per character, cheaper than a regex call for the short strings telemetry is made of.
 * 0 means no rule can match `s`.
 */
export function classMask(s: string): number {
  let m = 0;
  let prev = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      const t = TABLE[c] ?? 0;
      if (t !== 0) {
        m |= t;
        if (c === 47 && prev === 58) m |= CC.SCHEME; // ://
      } else if (c === 45 && prev === 45) m |= CC.DASHDASH;
      else if (c === 46 && prev === 46) m |= CC.DOTDOT;
      else if (c === 44) m |= CC.COMMA;
      else if (c === 120 && prev === 48) m |= CC.HEX0X;
    } else if (c === 0x2215 || c === 0x2044 || c === 0xff0f || c === 0x2216 || c === 0xff3c || c === 0xff0e) {
      m |= CC.LOOKALIKE | CC.DOTDOT | CC.SLASH;
    }
    prev = c;
  }
  return m;
}

/** Adds KEYWORD (strings with a space only); 0 when only quiet bits remain. */
export function finishMask(s: string, raw: number): number {
  let m = raw;
  if ((m & CC.SPACE) !== 0 && KEYWORD_RE.test(s)) m |= CC.KEYWORD;
  return (m & ~QUIET) === 0 ? 0 : m;
}

/** Character-class mask of `s`, or 0 when nothing in it can matter to any rule. */
export function charMask(s: string): number {
  const raw = classMask(s);
  return raw === 0 ? 0 : finishMask(s, raw);
}
