/**
 * Decoding and normalisation for WAF inspection (issue 5, point 3). Attackers hide payloads
 * behind percent-encoding (once, twice: `%252e`), IIS-style `%uXXXX`, and overlong UTF-8
 * (`%c0%af` for `/`, the 2001 IIS "Unicode" traversal). The decoder is deliberately lenient:
 * it decodes what a permissive back end might decode, so the rules see the payload that back end
 * would see. Normalisation turns `\` into `/` and collapses `//`; it resolves nothing (`../`
 * stays, so traversal remains visible).
 */

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Lenient UTF-8 decoding of a byte run: accepts overlong forms (which a strict decoder rejects,
 * and which old servers mapped to ASCII), maps any other invalid byte to U+FFFD.
 */
function decodeBytesLenient(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b0 = bytes[i] ?? 0;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    const need = b0 >= 0xf0 && b0 < 0xf8 ? 3 : b0 >= 0xe0 ? 2 : b0 >= 0xc0 ? 1 : 0;
    if (need === 0 || i + need >= bytes.length) {
      out += '\ufffd';
      i++;
      continue;
    }
    let cp = b0 & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    let ok = true;
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k] ?? 0;
      if ((b & 0xc0) !== 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!ok || cp > 0x10ffff) {
      out += '\ufffd';
      i++;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

/**
 * One pass of percent-decoding (RFC 3986 §2.1), plus `%uXXXX` and, when `plusIsSpace`
 * (application/x-www-form-urlencoded, WHATWG URL §5.1), `+` as space. Malformed escapes stay.
 */
export function percentDecode(s: string, plusIsSpace = false): string {
  if (s.indexOf('%') === -1 && !(plusIsSpace && s.indexOf('+') !== -1)) return s;
  let out = '';
  let bytes: number[] = [];
  const n = s.length;
  for (let i = 0; i < n; ) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 < n) {
        const h = hexVal(s.charCodeAt(i + 1));
        const l = hexVal(s.charCodeAt(i + 2));
        if (h >= 0 && l >= 0) {
          bytes.push((h << 4) | l);
          i += 3;
          continue;
        }
      }
      const u = s.charCodeAt(i + 1);
      if ((u === 117 || u === 85) && i + 5 < n) {
        const a = hexVal(s.charCodeAt(i + 2));
        const b = hexVal(s.charCodeAt(i + 3));
        const d = hexVal(s.charCodeAt(i + 4));
        const e = hexVal(s.charCodeAt(i + 5));
        if (a >= 0 && b >= 0 && d >= 0 && e >= 0) {
          if (bytes.length > 0) {
            out += decodeBytesLenient(bytes);
            bytes = [];
          }
          out += String.fromCharCode((a << 12) | (b << 8) | (d << 4) | e);
          i += 6;
          continue;
        }
      }
    }
    if (bytes.length > 0) {
      out += decodeBytesLenient(bytes);
      bytes = [];
    }
    out += plusIsSpace && c === 43 ? ' ' : s[i];
    i++;
  }
  if (bytes.length > 0) out += decodeBytesLenient(bytes);
  return out;
}

/**
 * The forms of one value the rules look at: as given, decoded once, and decoded again while it
 * still changes (double and triple encoding), at most `maxPasses` decodes.
 */
export function decodedForms(s: string, firstPassPlusIsSpace = false, maxPasses = 3): string[] {
  const forms = [s];
  let cur = s;
  for (let pass = 0; pass < maxPasses; pass++) {
    if (cur.indexOf('%') === -1 && !(pass === 0 && firstPassPlusIsSpace && cur.indexOf('+') !== -1)) break;
    const next = percentDecode(cur, pass === 0 && firstPassPlusIsSpace);
    if (next === cur) break;
    forms.push(next);
    cur = next;
  }
  return forms;
}

/** `\` to `/`, runs of `/` collapsed to one. Nothing is resolved: `../` survives. */
export function normalisePath(s: string): string {
  if (s.indexOf('\\') === -1 && s.indexOf('//') === -1) return s;
  return s.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
}

const ESCAPE_RE = /\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\u\{([0-9a-fA-F]{1,6})\}/g;

/** C / JavaScript / PHP escape sequences (`\x27`, `\u003c`), as CRS's t:escapeSeqDecode and t:jsDecode. */
export function escapeDecode(s: string): string {
  if (s.indexOf('\\x') === -1 && s.indexOf('\\u') === -1) return s;
  return s.replace(ESCAPE_RE, (m, x?: string, u?: string, cp?: string) => {
    const v = parseInt(x ?? u ?? cp ?? '', 16);
    return Number.isFinite(v) && v <= 0x10ffff ? String.fromCodePoint(v) : m;
  });
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&', sol: '/', bsol: '\\', lpar: '(', rpar: ')', colon: ':', semi: ';', equals: '=', num: '#', tab: '\t', newline: '\n', nbsp: ' ', grave: '`', excl: '!', period: '.', comma: ',', percnt: '%', plus: '+', lsqb: '[', rsqb: ']', lcub: '{', rcub: '}', vert: '|', ast: '*' };
const ENTITY_RE = /&(?:#[xX]([0-9a-fA-F]{1,6})|#(\d{1,7})|([a-zA-Z]{2,8}));?/g;

/** HTML character references (HTML §13.2.5.72), also without the `;` browsers forgive; as t:htmlEntityDecode. */
export function htmlEntityDecode(s: string): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(ENTITY_RE, (m, hex?: string, dec?: string, name?: string) => {
    if (hex !== undefined || dec !== undefined) {
      const v = hex !== undefined ? parseInt(hex, 16) : parseInt(dec ?? '', 10);
      return Number.isFinite(v) && v > 0 && v <= 0x10ffff ? String.fromCodePoint(v) : m;
    }
    const n = (name ?? '').toLowerCase();
    const named = NAMED[n];
    if (named !== undefined) return named;
    // Legacy references without ';' match by prefix: "&ltscript" is "<script".
    const p = /^(lt|gt|amp|quot)/.exec(n);
    return p === null ? m : (NAMED[p[1] ?? ''] ?? '') + (name ?? '').slice((p[1] ?? '').length);
  });
}
