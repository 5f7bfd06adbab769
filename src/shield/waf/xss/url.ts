/**
 * Normalises an attribute value the way a browser reads a URL from it before choosing the scheme:
 * character references decoded (HTML §13.2.5.72-80: decimal, hex, with or without ';', and the
 * named ones attackers use to hide a scheme), then every ASCII whitespace and control character
 * removed (WHATWG URL: leading C0/space stripped, tab and newline removed anywhere) and lower-
 * cased. Then says whether it names a scripting scheme.
 */

const NAMED: Record<string, string> = {
  colon: ':', tab: '\t', newline: '\n', lpar: '(', rpar: ')', sol: '/', bsol: '\\', period: '.',
  comma: ',', lt: '<', gt: '>', quot: '"', apos: "'", amp: '&', nbsp: ' ', grave: '`', equals: '=',
  semi: ';', excl: '!', num: '#', percnt: '%', plus: '+', lowbar: '_', hyphen: '-', dash: '-',
};

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(?:#[xX]([0-9a-fA-F]{1,8});?|#([0-9]{1,10});?|([a-zA-Z]{2,10});)/g, (m, hex?: string, dec?: string, name?: string) => {
    if (hex !== undefined || dec !== undefined) {
      const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    const v = NAMED[name!.toLowerCase()];
    return v ?? m;
  });
}

const SCRIPT_SCHEMES = ['javascript:', 'vbscript:', 'livescript:', 'mocha:', 'data:text/html', 'data:image/svg', 'data:application/x', 'data:text/xml', 'data:application/xhtml'];

/** 'javascript', 'vbscript', 'data' ... when the value is a scripting URL, else null. */
export function scriptScheme(value: string): string | null {
  // eslint-disable-next-line no-control-regex
  const v = decodeEntities(value).replace(/[\u0000-\u0020\u007f-\u00a0]+/g, '').toLowerCase();
  for (const sc of SCRIPT_SCHEMES) {
    if (v.startsWith(sc)) return sc.slice(0, sc.indexOf(':'));
  }
  return null;
}
