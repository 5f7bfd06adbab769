/**
 * A small HTML tokenizer after the WHATWG HTML tokenization states (HTML Living Standard §13.2.5),
 * as libinjection's html5 state machine uses them: data, tag open, tag name, attribute name,
 * attribute value (unquoted, single-, double- and back-quoted), markup declarations (comments,
 * CDATA, doctype) and bogus comments. It does not build a tree and ignores character references
 * except where a value is decoded (entities.ts). Callers pick the state to start in, so an input
 * that breaks out of a quoted attribute value is read as the rest of that value.
 */

export type StartState = 'data' | 'attr-name' | 'value-unquoted' | 'value-single' | 'value-double' | 'value-back';

export type HtmlEvent =
  | { kind: 'tag'; name: string; closed: boolean }
  | { kind: 'attr'; tag: string; name: string; value: string; hasValue: boolean; quoted: boolean }
  | { kind: 'comment'; text: string }
  | { kind: 'cdata' }
  | { kind: 'doctype'; text: string }
  | { kind: 'tag-end'; name: string; selfClosing: boolean };

/** Bound on events per input: a 1 MB string of tags is still read in bounded time. */
const MAX_EVENTS = 8192;

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
/** HTML whitespace (§13.2.5.1) plus NUL, vertical tab and other controls browsers skip. */
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 12 || c === 13 || c === 11 || c === 0;
}

export function* htmlEvents(s: string, start: StartState): Generator<HtmlEvent> {
  const n = s.length;
  let i = 0;
  let events = 0;
  if (start === 'attr-name') {
    // The input lands inside a tag, after its name: attributes first.
    const r = yield* attributes(s, 0, '');
    if (r === -1) return;
    i = r;
  } else if (start !== 'data') {
    // The input begins inside an attribute value of an unknown attribute: skip to its end,
    // then continue in the attribute-name state of that (unknown) tag.
    const end = start === 'value-unquoted' ? findUnquotedEnd(s, 0) : s.indexOf(start === 'value-single' ? "'" : start === 'value-double' ? '"' : '`');
    if (end === -1) return;
    i = start === 'value-unquoted' ? end : end + 1;
    const r = yield* attributes(s, i, '');
    if (r === -1) return;
    i = r;
  }
  while (i < n && events < MAX_EVENTS) {
    const lt = s.indexOf('<', i);
    if (lt === -1 || lt + 1 >= n) return;
    const c = s.charCodeAt(lt + 1);
    events++;
    if (isAlpha(c)) {
      let e = lt + 1;
      while (e < n) {
        const d = s.charCodeAt(e);
        if (isSpace(d) || d === 47 || d === 62 || d === 60) break; // '/', '>', '<'
        e++;
      }
      const tag = s.slice(lt + 1, e).toLowerCase();
      yield { kind: 'tag', name: tag, closed: s.indexOf('>', e) !== -1 };
      // "<scr<script>ipt>": the name is cut at '<' (a filter that strips the inner tag leaves
      // the outer one), and the inner '<' is read as a tag of its own.
      if (s.charCodeAt(e) === 60) { i = e; continue; }
      const r = yield* attributes(s, e, tag);
      if (r === -1) return;
      i = r;
    } else if (c === 33) { // '!'
      if (s.startsWith('--', lt + 2)) {
        const close = s.indexOf('-->', lt + 4);
        const text = s.slice(lt + 4, close === -1 ? n : close);
        yield { kind: 'comment', text };
        i = close === -1 ? n : close + 3;
      } else if (s.slice(lt + 2, lt + 9).toUpperCase() === '[CDATA[') {
        yield { kind: 'cdata' };
        i = lt + 9;
      } else {
        const close = s.indexOf('>', lt + 2);
        yield { kind: 'doctype', text: s.slice(lt + 2, close === -1 ? n : close) };
        i = close === -1 ? n : close + 1;
      }
    } else if (c === 47 && lt + 2 < n && isAlpha(s.charCodeAt(lt + 2))) { // '</x'
      const close = s.indexOf('>', lt + 2);
      yield { kind: 'tag-end', name: s.slice(lt + 2, close === -1 ? n : close).trim().toLowerCase(), selfClosing: false };
      i = close === -1 ? n : close + 1;
    } else if (c === 63) { // '<?' bogus comment
      const close = s.indexOf('>', lt + 2);
      yield { kind: 'comment', text: s.slice(lt + 2, close === -1 ? n : close) };
      i = close === -1 ? n : close + 1;
    } else {
      i = lt + 1; // "a < b", "x<3": text
    }
  }
}

function findUnquotedEnd(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isSpace(c) || c === 62) return i;
  }
  return -1;
}

/**
 * Attribute-name / value states from `i` until the tag's '>' (returns the index after it), or
 * -1 at the end of the input.
 */
function* attributes(s: string, i: number, tag: string): Generator<HtmlEvent, number> {
  const n = s.length;
  for (let count = 0; i < n && count < MAX_EVENTS; count++) {
    let c = s.charCodeAt(i);
    if (isSpace(c) || c === 47) { i++; continue; } // '/' between attributes is ignored
    if (c === 62) return i + 1; // '>'
    // Attribute name: up to whitespace, '/', '>' or '=' (an '=' first is part of the name).
    let e = i + 1;
    while (e < n) {
      c = s.charCodeAt(e);
      if (isSpace(c) || c === 47 || c === 62 || c === 61) break;
      e++;
    }
    const name = s.slice(i, e).toLowerCase();
    let j = e;
    while (j < n && isSpace(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 61) {
      yield { kind: 'attr', tag, name, value: '', hasValue: false, quoted: false };
      i = e;
      continue;
    }
    j++;
    while (j < n && isSpace(s.charCodeAt(j))) j++;
    const q = s[j];
    if (q === '"' || q === "'" || q === '`') {
      const close = s.indexOf(q, j + 1);
      const value = s.slice(j + 1, close === -1 ? n : close);
      yield { kind: 'attr', tag, name, value, hasValue: true, quoted: close !== -1 };
      if (close === -1) return -1;
      i = close + 1;
    } else {
      const end = findUnquotedEnd(s, j);
      const value = s.slice(j, end === -1 ? n : end);
      yield { kind: 'attr', tag, name, value, hasValue: true, quoted: false };
      if (end === -1) return -1;
      i = end;
    }
  }
  return -1;
}
