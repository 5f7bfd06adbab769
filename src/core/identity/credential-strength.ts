/**
 * A documented, deliberately simple estimate of how many guesses a password costs, in bits.
 * It is the strength bar of credential-checks.ts (at least 60 bits and 12 characters), not a
 * model of human password choice like zxcvbn; it errs towards refusing patterned passwords.
 *
 * Each character is worth log2 of the pool the whole password draws from (lower 26, upper 26,
 * digits 10, ASCII symbols and space 33, anything else 100), except characters a guesser gets
 * almost for free, which are worth 1 bit each:
 * - a repeat of the previous character (`aaaa`);
 * - the third and later character of an ascending or descending run (`abcd`, `4321`);
 * - the third and later character of a walk along a keyboard row (`qwerty`, `asdf`);
 * - a character continuing a repeated block of 2 to 16 characters, once three in a row have
 *   matched the block before (`abcabcabc`).
 * A deny-listed word of 4 or more characters found inside the password (case-insensitively,
 * longest first) is worth log2(dictionary size) bits in total, as one pick from the list.
 */

/** Pools by character class (what a brute-forcer who knows the classes must try per position). */
const POOLS = { lower: 26, upper: 26, digit: 10, symbol: 33, other: 100 } as const;

const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1234567890', '!@#$%^&*()', 'qwertzuiop', 'yxcvbnm', 'azertyuiop', 'wxcvbn'];

const MIN_DICTIONARY_WORD = 4;
const MAX_BLOCK = 16;

function classOf(ch: string): keyof typeof POOLS {
  if (ch >= 'a' && ch <= 'z') return 'lower';
  if (ch >= 'A' && ch <= 'Z') return 'upper';
  if (ch >= '0' && ch <= '9') return 'digit';
  const cp = ch.codePointAt(0) ?? 0;
  return cp >= 0x20 && cp < 0x7f ? 'symbol' : 'other';
}

/** Size of the character pool the password's classes span. */
export function poolSize(chars: readonly string[]): number {
  const classes = new Set(chars.map(classOf));
  let pool = 0;
  for (const c of classes) pool += POOLS[c];
  return pool;
}

function isKeyboardStep(a: string, b: string, c: string): boolean {
  const triple = `${a}${b}${c}`.toLowerCase();
  const reversed = `${c}${b}${a}`.toLowerCase();
  return KEYBOARD_ROWS.some((row) => row.includes(triple) || row.includes(reversed));
}

function isRunStep(chars: readonly string[], i: number): boolean {
  const cp = (k: number): number => chars[k]?.codePointAt(0) ?? -10;
  const d1 = cp(i) - cp(i - 1);
  const d2 = cp(i - 1) - cp(i - 2);
  return Math.abs(d1) === 1 && d1 === d2;
}

/** True when chars[i] and the two before it equal the three `p` positions earlier, for some block size p. */
function continuesBlock(chars: readonly string[], i: number): boolean {
  for (let p = 2; p <= MAX_BLOCK && i - 2 - p >= 0; p++) {
    if (chars[i] === chars[i - p] && chars[i - 1] === chars[i - 1 - p] && chars[i - 2] === chars[i - 2 - p]) return true;
  }
  return false;
}

/** Marks the positions covered by dictionary words (longest first); returns their bits. */
function coverDictionaryWords(lowered: readonly string[], dictionary: readonly (readonly string[])[], covered: boolean[]): number {
  if (dictionary.length === 0) return 0;
  const perWord = Math.log2(dictionary.length + 1);
  let bits = 0;
  for (const word of dictionary) {
    for (let i = 0; i + word.length <= lowered.length; i++) {
      let match = true;
      for (let k = 0; k < word.length && match; k++) match = !covered[i + k] && lowered[i + k] === word[k];
      if (!match) continue;
      for (let k = 0; k < word.length; k++) covered[i + k] = true;
      bits += perWord;
      i += word.length - 1;
    }
  }
  return bits;
}

/** Prepares deny-listed words for estimateEntropyBits: lower-cased, split into code points, longest first. */
export function strengthDictionary(words: Iterable<string>): readonly (readonly string[])[] {
  const unique = new Set<string>();
  for (const w of words) {
    const n = w.normalize('NFKC').toLowerCase();
    if (Array.from(n).length >= MIN_DICTIONARY_WORD) unique.add(n);
  }
  return [...unique].map((w) => Array.from(w)).sort((a, b) => b.length - a.length);
}

/** Estimated entropy in bits (see the module comment for the rules). */
export function estimateEntropyBits(secret: string, dictionary: readonly (readonly string[])[] = []): number {
  const chars = Array.from(secret);
  if (chars.length === 0) return 0;
  const perChar = Math.log2(poolSize(chars));
  const covered = chars.map(() => false);
  let bits = coverDictionaryWords(chars.map((c) => c.normalize('NFKC').toLowerCase()), dictionary, covered);
  for (let i = 0; i < chars.length; i++) {
    if (covered[i]) continue;
    const ch = chars[i] ?? '';
    const cheap =
      (i >= 1 && ch === chars[i - 1]) ||
      (i >= 2 && (isRunStep(chars, i) || isKeyboardStep(chars[i - 2] ?? '', chars[i - 1] ?? '', ch))) ||
      continuesBlock(chars, i);
    bits += cheap ? 1 : perChar;
  }
  return bits;
}
