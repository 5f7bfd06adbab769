/**
 * Admission check for regular-expression rules. A list is untrusted input and every rule runs
 * against every query, so a pattern that backtracks badly is a denial of service: V8's
 * backtracking engine takes 27 s on a 253-character name for `.*.*.*.*z`, and nested quantifiers
 * (`(a+)+`) are exponential. Names are at most 253 characters, so capping the input does not
 * help; the shape of the pattern has to be bounded. Measured worst cases on a 253-character name
 * (one core): one unbounded quantifier < 0.2 ms; two, unanchored (`.*.*z`) 53 ms; anchored
 * (`^.*a.*b$`) 0.07 ms.
 *
 * The rule, checked on the pattern text without running it:
 *  - no backreferences and no lookaround (neither is needed to name domains; both defeat the
 *    bounds below);
 *  - no repeated group that itself holds a quantifier or an alternation (`(a+)+`, `(a|ab)*`,
 *    `([a-z]+\.)+`): write a character class instead (`[a-z.]+`);
 *  - at most one wide quantifier (`*`, `+`, `{n,}`, `{n,m}` with m > 8), or two when the pattern
 *    is anchored with a leading `^` (the match cannot restart at every position);
 *  - at most 256 characters.
 * Which keeps every accepted pattern at O(n²) steps on n ≤ 253.
 */

export const MAX_REGEX_LENGTH = 256;
const WIDE_BOUND = 8;

interface Frame {
  quantified: boolean;
  alternation: boolean;
}

/** null when `pattern` is admitted, else a one-line reason. Never throws. */
export function regexSafetyProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'empty regular expression';
  if (pattern.length > MAX_REGEX_LENGTH) return `regular expression longer than ${MAX_REGEX_LENGTH} characters`;
  const stack: Frame[] = [{ quantified: false, alternation: false }];
  let wide = 0;
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== undefined && /[1-9]/.test(next)) return 'backreferences are not allowed';
      if (next === 'k' && pattern[i + 2] === '<') return 'backreferences are not allowed';
      i += 2;
      continue;
    }
    if (c === '[') {
      // A character class is one atom; `]` right after `[` or `[^` is a literal.
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < n && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] === '?') {
        const kind = pattern[i + 2];
        if (kind === '=' || kind === '!') return 'lookahead is not allowed';
        if (kind === '<' && (pattern[i + 3] === '=' || pattern[i + 3] === '!')) return 'lookbehind is not allowed';
      }
      stack.push({ quantified: false, alternation: false });
      i++;
      continue;
    }
    if (c === ')') {
      const frame = stack.pop();
      const parent = stack[stack.length - 1];
      if (frame === undefined || parent === undefined) return 'unbalanced parenthesis';
      i++;
      const q = readQuantifier(pattern, i);
      if (q !== null) {
        if (q.repeats && (frame.quantified || frame.alternation)) {
          return 'nested quantifier: a repeated group may not hold a quantifier or an alternation (use a character class)';
        }
        if (q.wide) wide++;
        i = q.end;
        parent.quantified = true;
      }
      if (frame.quantified) parent.quantified = true;
      continue;
    }
    if (c === '|') {
      const top = stack[stack.length - 1];
      if (top !== undefined) top.alternation = true;
      i++;
      continue;
    }
    const q = readQuantifier(pattern, i);
    if (q !== null) {
      if (q.wide) wide++;
      const top = stack[stack.length - 1];
      if (top !== undefined) top.quantified = true;
      i = q.end;
      continue;
    }
    i++;
  }
  if (stack.length !== 1) return 'unbalanced parenthesis';
  // A top-level alternation (`^a|.*.*z`) un-anchors the branches after the first.
  const allowed = pattern.startsWith('^') && stack[0]?.alternation !== true ? 2 : 1;
  if (wide > allowed) {
    return `too many unbounded quantifiers (${wide}; at most ${allowed}${allowed === 1 ? ', or 2 when anchored with ^' : ''})`;
  }
  return null;
}

interface Quantifier {
  end: number;
  /** Can match its atom more than once. */
  repeats: boolean;
  /** Unbounded or with an upper bound above WIDE_BOUND. */
  wide: boolean;
}

/** The quantifier starting at `i` (with its lazy `?`), or null. */
function readQuantifier(p: string, i: number): Quantifier | null {
  const c = p[i];
  let end: number;
  let repeats: boolean;
  let wide: boolean;
  if (c === '*' || c === '+') {
    end = i + 1;
    repeats = true;
    wide = true;
  } else if (c === '?') {
    end = i + 1;
    repeats = false;
    wide = false;
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
    if (m === null) return null; // a literal `{`
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' || m[3] === undefined ? Infinity : Number(m[3]);
    end = i + m[0].length;
    repeats = max > 1;
    wide = max > WIDE_BOUND;
  } else {
    return null;
  }
  if (p[end] === '?') end++;
  return { end, repeats, wide };
}
