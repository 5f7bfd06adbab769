/**
 * A JSON scanner for WAF inspection (issue 5, point 3: >= 100 MB/s of JSON telemetry). It
 * walks the bytes of a JSON document (RFC 8259) without building objects: numbers, literals and
 * the many strings made only of letters, digits and - . : , _ (ids, timestamps, enum values) are
 * stepped over without creating a JavaScript string. Only a string holding a byte some rule
 * could care about (a metacharacter, a space, a non-ASCII byte, an escape) is decoded and handed
 * to the visitor, with a locator that renders its path (`$.a.b[2]`) only when asked.
 *
 * The scan also validates the structure; on any syntax error it returns false and the caller
 * inspects the payload as text instead. One scanner is reused for every payload (no allocation
 * per payload beyond the strings it decodes); it is not reentrant.
 */

import { BYTE_CLASS, CC } from './charclass.ts';

// A string is worth decoding when its class mask (charclass.ts, computed here on the bytes in
// the same pass that finds the closing quote) has more than a colon, a comma or non-ASCII text.
const DULL = CC.COLON | CC.COMMA | CC.HIGH;
const LOOKALIKE_BITS = CC.LOOKALIKE | CC.DOTDOT | CC.SLASH;

/** Bytes that need no work but remembering them as the previous byte: most letters and digits. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) {
  if ((BYTE_CLASS[c] ?? 0) === 0 && c !== 0x22 && c !== 0x5c && c !== 0x2d && c !== 0x2e && c !== 0x2c && c !== 0x78) PLAIN[c] = 1;
}

/** UTF-8 of U+2215 U+2216 U+2044 (E2 ..) and U+FF0E U+FF0F U+FF3C (EF BC ..): classMask's look-alikes. */
function lookalikeAt(buf: Buffer, i: number, c: number): boolean {
  const b1 = buf[i + 1];
  const b2 = buf[i + 2];
  if (c === 0xe2) return (b1 === 0x88 && (b2 === 0x95 || b2 === 0x96)) || (b1 === 0x81 && b2 === 0x84);
  return b1 === 0xbc && (b2 === 0x8e || b2 === 0x8f || b2 === 0xbc);
}

export interface JsonVisitor {
  /**
   * A string worth inspecting; `key` when it is an object key. `locate()` renders its path.
   * `mask` is its character-class mask (charclass.ts classMask) when known exactly (ASCII and
   * no escapes), else -1.
   */
  string(s: string, key: boolean, locate: () => string, mask: number): void;
  /** Nesting deeper than allowed: the rest of that branch is not inspected. */
  tooDeep(locate: () => string): void;
  /** Returning true stops the scan (a budget is spent). */
  stopped(): boolean;
}

const EMPTY = Buffer.alloc(0);

/** pathA marker of an array level. */
const ARRAY = -1;

function keyText(buf: Buffer, a: number, b: number): string {
  const raw = buf.toString('utf8', a, b);
  if (raw.indexOf('\\') === -1) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

export class JsonScanner {
  private buf: Buffer = EMPTY;
  private n = 0;
  private pos = 0;
  private depth = 0;
  private visitor: JsonVisitor | null = null;
  private readonly maxDepth: number;
  // Path: for an array level pathA = -1 and pathB = index; for an object level the key's
  // [start, end) byte offsets. No allocation per element.
  private readonly pathA: Int32Array;
  private readonly pathB: Int32Array;
  // The string just scanned: [strStart, strEnd) of its content, and what was seen in it.
  private strStart = 0;
  private strEnd = 0;
  private strMask = 0;
  private strEscaped = false;
  private readonly locValue = (): string => this.render('');
  private readonly locKey = (): string => this.render('(key)');

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
    this.pathA = new Int32Array(maxDepth + 2);
    this.pathB = new Int32Array(maxDepth + 2);
  }

  /** True when `buf` is well-formed JSON (or the visitor stopped the scan). */
  scan(buf: Buffer, visitor: JsonVisitor): boolean {
    this.buf = buf;
    this.n = buf.length;
    this.pos = 0;
    this.depth = 0;
    this.visitor = visitor;
    let ok: boolean;
    try {
      ok = this.value();
      if (ok && !visitor.stopped()) {
        this.ws();
        ok = this.pos === this.n;
      }
    } catch {
      ok = false; // a bad escape sequence
    }
    this.visitor = null;
    this.buf = EMPTY;
    return ok;
  }

  private render(extra: string): string {
    let out = '$';
    for (let d = 0; d < this.depth; d++) {
      const a = this.pathA[d] ?? 0;
      const b = this.pathB[d] ?? 0;
      if (a === ARRAY) out += `[${b}]`;
      else {
        const k = keyText(this.buf, a, b);
        out += /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k.length > 40 ? k.slice(0, 40) : k)}]`;
      }
    }
    return `json:${out}${extra}`;
  }

  private ws(): void {
    const buf = this.buf;
    let pos = this.pos;
    while (pos < this.n) {
      const c = buf[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  /** A string from its opening quote; false when it does not close or holds a raw control byte. */
  private str(): boolean {
    const buf = this.buf;
    const n = this.n;
    let pos = this.pos + 1;
    this.strStart = pos;
    let m = 0;
    let escaped = false;
    let prev = 0;
    while (pos < n) {
      const c = buf[pos] ?? 0;
      if (PLAIN[c] === 1) {
        prev = c;
        pos++;
        continue;
      }
      if (c === 0x22) {
        this.strEnd = pos;
        this.pos = pos + 1;
        this.strMask = m;
        this.strEscaped = escaped;
        return true;
      }
      if (c === 0x5c) {
        escaped = true;
        m |= CC.SLASH;
        pos += 2;
        prev = 0;
        continue;
      }
      if (c < 0x20) return false; // RFC 8259 §7: control characters must be escaped
      const t = BYTE_CLASS[c] ?? 0;
      if (t !== 0) {
        m |= t;
        if (c === 0x2f && prev === 0x3a) m |= CC.SCHEME; // ://
        else if ((c === 0xe2 || c === 0xef) && lookalikeAt(buf, pos, c)) m |= LOOKALIKE_BITS;
      } else if (c === 0x2d && prev === 0x2d) m |= CC.DASHDASH;
      else if (c === 0x2e && prev === 0x2e) m |= CC.DOTDOT;
      else if (c === 0x2c) m |= CC.COMMA;
      else if (c === 0x78 && prev === 0x30) m |= CC.HEX0X;
      prev = c;
      pos++;
    }
    return false;
  }

  /** The byte mask is the string's class mask (HIGH aside) unless the string had escapes. */
  private exactMask(): number {
    return this.strEscaped ? -1 : this.strMask;
  }

  private stringValue(): string {
    const raw = this.buf.toString('utf8', this.strStart, this.strEnd);
    if (!this.strEscaped) return raw;
    return JSON.parse(`"${raw}"`) as string; // throws on a bad escape: caught in scan()
  }

  private literal(word: string): boolean {
    for (let i = 0; i < word.length; i++) if (this.buf[this.pos + i] !== word.charCodeAt(i)) return false;
    this.pos += word.length;
    return true;
  }

  private number(): boolean {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    while (pos < this.n) {
      const c = buf[pos] ?? 0;
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) pos++;
      else break;
    }
    this.pos = pos;
    return pos > start;
  }

  private value(): boolean {
    this.ws();
    if (this.pos >= this.n) return false;
    const c = this.buf[this.pos];
    if (c === 0x22) {
      if (!this.str()) return false;
      if ((this.strMask & ~DULL) !== 0 && this.strEnd - this.strStart >= 2) this.visitor?.string(this.stringValue(), false, this.locValue, this.exactMask());
      return true;
    }
    if (c === 0x7b || c === 0x5b) {
      if (this.depth >= this.maxDepth) {
        this.visitor?.tooDeep(this.locValue);
        return this.skipNested();
      }
      return c === 0x7b ? this.object() : this.array();
    }
    if (c === 0x74) return this.literal('true');
    if (c === 0x66) return this.literal('false');
    if (c === 0x6e) return this.literal('null');
    return this.number();
  }

  /** Past the depth bound: checks that brackets balance and strings close, inspects nothing. */
  private skipNested(): boolean {
    let level = 0;
    while (this.pos < this.n) {
      const c = this.buf[this.pos];
      if (c === 0x22) {
        if (!this.str()) return false;
        continue;
      }
      if (c === 0x7b || c === 0x5b) level++;
      else if (c === 0x7d || c === 0x5d) {
        level--;
        if (level === 0) {
          this.pos++;
          return true;
        }
      }
      this.pos++;
    }
    return false;
  }

  private object(): boolean {
    this.pos++; // {
    this.ws();
    if (this.buf[this.pos] === 0x7d) {
      this.pos++;
      return true;
    }
    const v = this.visitor;
    for (;;) {
      if (v?.stopped() === true) return true;
      this.ws();
      if (this.buf[this.pos] !== 0x22 || !this.str()) return false;
      const d = this.depth;
      this.pathA[d] = this.strStart;
      this.pathB[d] = this.strEnd;
      this.depth = d + 1;
      if ((this.strMask & ~DULL) !== 0 && this.strEnd - this.strStart >= 2) v?.string(this.stringValue(), true, this.locKey, this.exactMask());
      this.ws();
      if (this.buf[this.pos] !== 0x3a) return false;
      this.pos++;
      if (!this.value()) return false;
      this.depth = d;
      this.ws();
      const c = this.buf[this.pos];
      this.pos++;
      if (c === 0x7d) return true;
      if (c !== 0x2c) return false;
    }
  }

  private array(): boolean {
    this.pos++; // [
    this.ws();
    if (this.buf[this.pos] === 0x5d) {
      this.pos++;
      return true;
    }
    const v = this.visitor;
    for (let i = 0; ; i++) {
      if (v?.stopped() === true) return true;
      const d = this.depth;
      this.pathA[d] = ARRAY;
      this.pathB[d] = i;
      this.depth = d + 1;
      if (!this.value()) return false;
      this.depth = d;
      this.ws();
      const c = this.buf[this.pos];
      this.pos++;
      if (c === 0x5d) return true;
      if (c !== 0x2c) return false;
    }
  }
}
