/**
 * The rule table (issue 5, point 3): CRS-like ids, category, severity and paranoia level, each
 * rule gated by a character-class trigger (charclass.ts) so that it runs only on strings that
 * could possibly match. PL1 holds the detectors (tokenizing SQLi and XSS, the shell tokenizer,
 * traversal, OS files, wrappers, SSRF hosts); PL2..PL4 add the stricter, noisier checks, as the
 * OWASP Core Rule Set does (crs-setup.conf: higher paranoia, more false positives).
 */
import { CC } from './charclass.ts';
import { detectSqli } from './sqli/index.ts';
import { detectXss } from './xss/index.ts';
import { detectBareCommand, detectCodeInjection, detectShellInjection, detectWindowsCommand } from './rce.ts';
import { detectNullByte, detectOsFile, detectSystemPath, detectTraversal, detectWrapper } from './lfi.ts';
import { scanUrls } from './ssrf.ts';
import type { ParanoiaLevel, WafCategory, WafSeverity } from './types.ts';

export interface RuleMatch {
  match: string;
  fingerprint?: string;
}

export interface WafRule {
  id: string;
  category: WafCategory;
  severity: WafSeverity;
  paranoia: ParanoiaLevel;
  description: string;
  /** Runs only when the string's class mask shares a bit with this (charclass.ts). */
  trigger: number;
  /**
   * Rules that look at arguments only (query, body, payload), not at the path or headers: SSRF
   * (a Referer naming localhost is no attack) and the PL3/PL4 meta-character rules (every
   * browser User-Agent holds ; and parentheses).
   */
  argsOnly?: boolean;
  test(s: string, mask: number): RuleMatch | null;
}

// The SQLi tokenizer is the costliest rule, so it runs only where an injection is possible:
// a comment marker or an SQL keyword; or a quote next to an operator or a word operator (a
// break-out: ' or, '=', '||', ');); or = ( | & ; next to a word operator or a comparison
// ("1 or 1=1", "1) and (2>1"). Prose quotes ("it's", "O'Brien") and semicolons stay out.
const SQLI_STRONG = CC.DASHDASH | CC.HASH | CC.STAR | CC.KEYWORD;
const SQLI_TRIGGER = SQLI_STRONG | CC.QUOTE | CC.EQ | CC.PAREN | CC.PIPE | CC.AMP | CC.SEMI;
const SQL_BREAKOUT_RE = /['"`]\s*(?:[-+*/%&|^=<>!~,;()#@:]|\b(?:or|and|xor|not|like|rlike|regexp|div|is|in|between|sounds|union|having)\b)|(?:[-+*/%&|^=<>!~,;()#@:]|\b(?:or|and|xor|like|div|is|in|between)\b)\s*['"`]/i;
const SQL_WEAK_RE = /[\d'")]\s*(?:\b(?:or|and|xor|not|like|rlike|regexp|div|is|in|between|sounds)\b|[=<>]|\|\||&&)|\b(?:or|and|xor|like|rlike|regexp|div|between)\b\s*[('"`\d@-]/i;
function sqliWorthIt(s: string, mask: number): boolean {
  if ((mask & SQLI_STRONG) !== 0) return true;
  if ((mask & CC.QUOTE) !== 0 && SQL_BREAKOUT_RE.test(s)) return true;
  return SQL_WEAK_RE.test(s);
}
// XSS needs a tag opener, or an attribute / URI / script-context marker next to = : ( or `.
const XSS_TRIGGER = CC.LT | CC.EQ | CC.PAREN | CC.BACKTICK | CC.COLON | CC.BRACE;
const XSS_HINT_RE = /\bon[a-z]{3,}\s*=|script\s*:|data\s*:|\b(?:style|src|href|srcdoc|action|formaction)\s*=|\b(?:alert|prompt|confirm|eval|print|fetch|import|atob|settimeout|setinterval|constructor)\b|document\s*\.|window\s*\.|\bthis\s*\.|`|\$\{|\[\s*['"`]/i;
const SHELL_TRIGGER = CC.SEMI | CC.PIPE | CC.AMP | CC.DOLLAR | CC.BACKTICK | CC.CTRL;
const CODE_TRIGGER = CC.PAREN | CC.DOLLAR | CC.LT | CC.SCHEME | CC.SEMI;

function fromDetector(r: { detected: boolean; fingerprint?: string }, s: string): RuleMatch | null {
  if (!r.detected) return null;
  return r.fingerprint === undefined ? { match: s.slice(0, 64) } : { match: s.slice(0, 64), fingerprint: r.fingerprint };
}

function bits(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}

const SQL_COMMENT_KEYWORD_RE = /\b(?:select|union|insert|update|delete|drop|or|and|where|from|having|exec|order\s+by|group\s+by|sleep|benchmark)\b[\s\S]{0,200}?(?:--|#|\/\*)|(?:--|#|\/\*)[\s\S]{0,200}?\b(?:select|union|insert|update|delete|drop|where|from)\b/i;
const XSS_LOOSE_RE = /<[a-z!/?]|\bon[a-z]{3,}\s*=|(?:java|vb)script\s*:|\bsrcdoc\s*=|\bformaction\s*=/i;

export const RULES: readonly WafRule[] = [
  // ---- paranoia level 1 -------------------------------------------------------------------
  {
    id: '942100', category: 'sqli', severity: 'critical', paranoia: 1, trigger: SQLI_TRIGGER,
    description: 'SQL injection (tokenizing detector, libinjection style)',
    test: (s, mask) => (sqliWorthIt(s, mask) ? fromDetector(detectSqli(s), s) : null),
  },
  {
    id: '941100', category: 'xss', severity: 'critical', paranoia: 1, trigger: XSS_TRIGGER,
    description: 'cross-site scripting (HTML/JavaScript tokenizing detector)',
    test: (s, mask) => ((mask & CC.LT) === 0 && !XSS_HINT_RE.test(s) ? null : fromDetector(detectXss(s), s)),
  },
  {
    id: '932100', category: 'rce', severity: 'critical', paranoia: 1, trigger: SHELL_TRIGGER,
    description: 'Unix/Windows command injection after a shell separator',
    test: (s) => detectShellInjection(s),
  },
  {
    id: '932120', category: 'rce', severity: 'critical', paranoia: 1,
    trigger: CC.KEYWORD | CC.PERCENT,
    description: 'Windows cmd / PowerShell command',
    test: (s) => detectWindowsCommand(s),
  },
  {
    id: '932130', category: 'rce', severity: 'critical', paranoia: 1,
    trigger: CODE_TRIGGER,
    description: 'code injection (PHP functions after a break-out, Log4Shell JNDI lookup, expect://)',
    // A call needs ( after a break-out character; a lookup needs ${; a PHP tag needs <?.
    test: (s, mask) =>
      (mask & CC.PAREN) !== 0 && (mask & (CC.QUOTE | CC.SEMI | CC.PAREN | CC.DOLLAR | CC.LT)) !== 0
        || (mask & (CC.DOLLAR | CC.LT | CC.SCHEME)) !== 0 || (mask & CC.SEMI) !== 0 && s.indexOf('base64') !== -1
        ? detectCodeInjection(s)
        : null,
  },
  {
    id: '930100', category: 'lfi', severity: 'critical', paranoia: 1, trigger: CC.DOTDOT | CC.LOOKALIKE | CC.HEX0X,
    description: 'path traversal (../ in any encoding)',
    test: (s) => detectTraversal(s),
  },
  {
    id: '930110', category: 'lfi', severity: 'critical', paranoia: 1, trigger: CC.SCHEME,
    description: 'file inclusion through a stream wrapper (php://filter, file://, phar://, zip://)',
    test: (s) => detectWrapper(s),
  },
  {
    id: '930120', category: 'lfi', severity: 'critical', paranoia: 1, trigger: CC.SLASH,
    description: 'access to an OS file (/etc/passwd, C:\\windows\\win.ini, .ssh/id_rsa, ...)',
    test: (s) => detectOsFile(s),
  },
  {
    id: '930130', category: 'lfi', severity: 'critical', paranoia: 1, trigger: CC.CTRL,
    description: 'NUL byte next to a path (extension truncation)',
    test: (s) => detectNullByte(s),
  },
  {
    id: '934100', category: 'ssrf', severity: 'critical', paranoia: 1, trigger: CC.SCHEME, argsOnly: true,
    description: 'SSRF: URL to loopback, cloud metadata, an obfuscated IP, or a gopher/dict/file scheme',
    test: (s) => {
      const h = scanUrls(s).find((x) => x.kind !== 'private');
      return h === undefined ? null : { match: h.match, fingerprint: h.kind };
    },
  },
  // ---- paranoia level 2 -------------------------------------------------------------------
  {
    id: '942200', category: 'sqli', severity: 'critical', paranoia: 2, trigger: CC.DASHDASH | CC.HASH | CC.STAR,
    description: 'SQL keyword together with a comment marker',
    test: (s, mask) => {
      if ((mask & CC.KEYWORD) === 0) return null;
      const m = SQL_COMMENT_KEYWORD_RE.exec(s);
      return m ? { match: s.slice(m.index, m.index + 64) } : null;
    },
  },
  {
    id: '941200', category: 'xss', severity: 'critical', paranoia: 2, trigger: CC.LT | CC.EQ | CC.COLON,
    description: 'HTML tag opener, event handler attribute or script: URI',
    test: (s) => {
      const m = XSS_LOOSE_RE.exec(s);
      return m ? { match: s.slice(m.index, m.index + 64) } : null;
    },
  },
  {
    id: '932200', category: 'rce', severity: 'critical', paranoia: 2,
    trigger: CC.SLASH | CC.GT | CC.SEMI | CC.PIPE | CC.AMP | CC.DOLLAR | CC.QUOTE | CC.SCHEME,
    description: 'value starting with a command and an argument, or redirecting into a path',
    test: (s) => detectBareCommand(s),
  },
  {
    id: '930140', category: 'lfi', severity: 'critical', paranoia: 2, trigger: CC.SLASH,
    description: 'absolute path into a system directory',
    test: (s) => detectSystemPath(s),
  },
  {
    // Paranoia 3, not 2: URLs to LAN addresses (RTSP cameras, local brokers) are ordinary in IoT
    // telemetry, and at PL2 this rule alone flagged 12.9 % of the benign telemetry set.
    id: '934200', category: 'ssrf', severity: 'critical', paranoia: 3, trigger: CC.SCHEME, argsOnly: true,
    description: 'SSRF: URL to a private (RFC 1918 / RFC 4193) address',
    test: (s) => {
      const h = scanUrls(s).find((x) => x.kind === 'private');
      return h === undefined ? null : { match: h.match, fingerprint: h.kind };
    },
  },
  // ---- paranoia level 3 -------------------------------------------------------------------
  {
    id: '942300', category: 'sqli', severity: 'warning', paranoia: 3, argsOnly: true,
    trigger: CC.QUOTE | CC.SEMI | CC.DASHDASH | CC.HASH | CC.STAR,
    description: 'short value with two or more kinds of SQL meta characters',
    test: (s, mask) => {
      if (s.length > 64) return null;
      return bits(mask & (CC.QUOTE | CC.SEMI | CC.DASHDASH | CC.HASH | CC.STAR | CC.EQ | CC.PAREN)) >= 2 ? { match: s.slice(0, 64) } : null;
    },
  },
  {
    id: '941300', category: 'xss', severity: 'warning', paranoia: 3, argsOnly: true, trigger: CC.LT | CC.GT,
    description: 'angle bracket in a value',
    test: (s) => ({ match: s.slice(0, 64) }),
  },
  {
    id: '932300', category: 'rce', severity: 'warning', paranoia: 3, argsOnly: true, trigger: CC.SEMI | CC.PIPE | CC.DOLLAR | CC.QUOTE,
    description: 'shell meta character (; | $ `) in a value',
    test: (s) => (/[;|`]|\$[({]/.test(s) ? { match: s.slice(0, 64) } : null),
  },
  // ---- paranoia level 4 -------------------------------------------------------------------
  {
    id: '942400', category: 'sqli', severity: 'notice', paranoia: 4, argsOnly: true, trigger: CC.QUOTE | CC.SEMI,
    description: 'any quote or semicolon',
    test: (s) => ({ match: s.slice(0, 64) }),
  },
  {
    id: '920400', category: 'protocol', severity: 'notice', paranoia: 4, argsOnly: true, trigger: CC.CTRL,
    description: 'control character in a value',
    // eslint-disable-next-line no-control-regex -- control characters are what this rule reports
    test: (s) => (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s) ? { match: s.slice(0, 64) } : null),
  },
];
