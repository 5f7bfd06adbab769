/**
 * Path traversal and local file inclusion (issue 5, point 3; CRS 930xxx). Runs on the decoded
 * forms the engine hands it, after a further normalisation of the look-alikes that lenient
 * servers map to `.`, `/` and `\` (fullwidth and division-slash code points), so `..%2f`,
 * `%2e%2e/`, `..%c0%af`, `..%u2215`, `....//` and `..\` all reach the same `../` test.
 */

const LOOKALIKE_RE = /[\u2215\u2044\uff0f\u2216\uff3c\uff0e\u2024\u3002\ufe52]/g;
const LOOKALIKE: Record<string, string> = {
  '\u2215': '/', '\u2044': '/', '\uff0f': '/', '\u2216': '/', '\uff3c': '/',
  '\uff0e': '.', '\u2024': '.', '\u3002': '.', '\ufe52': '.',
};

/** Lower-cased, `\` and look-alikes to `/`, `//` collapsed; nothing resolved. */
export function normaliseForPath(s: string): string {
  let t = s.toLowerCase();
  if (LOOKALIKE_RE.test(t)) t = t.replace(LOOKALIKE_RE, (c) => LOOKALIKE[c] ?? c);
  LOOKALIKE_RE.lastIndex = 0;
  // "0x2e0x2e0x2f": hex notation some fuzzers (and some decoders) use for . and /.
  if (t.indexOf('0x') !== -1) t = t.replace(/0x2e/g, '.').replace(/0x2f|0x5c/g, '/');
  if (t.indexOf('\\') !== -1) t = t.replace(/\\/g, '/');
  if (t.indexOf('//') !== -1) t = t.replace(/(?<!:)\/{2,}/g, '/');
  return t;
}

export interface PathHit {
  match: string;
}

function excerpt(s: string, at: number): string {
  return s.slice(Math.max(0, at), at + 64);
}

// `../`, `..;/` (Tomcat), `.../`, `/..` at the end, `..` followed by a NUL or an encoded slash left over.
// No `\.\.+` before a required character: on a run of dots that would backtrack quadratically.
const TRAVERSAL_RE = /\.\.;?\/|\/\.\.\.*(?:$|[\0?#;])|^\.\.$|\.\.(?:%(?:2f|5c|c0|c1|e0|25|u)|0x2f|0x5c)/;

export function detectTraversal(input: string): PathHit | null {
  const t = normaliseForPath(input);
  const m = TRAVERSAL_RE.exec(t);
  return m ? { match: excerpt(t, m.index) } : null;
}

// Files an attacker reads to prove an inclusion or harvest secrets: the commonest entries of the
// CRS lfi-os-files.data list (Debian modsecurity-crs), written as one regex over normalised text.
const OS_FILE_RE = new RegExp(
  [
    String.raw`(?:^|[/=\s'"(:])etc/(?:passwd|shadow|group|gshadow|hosts|issue|motd|sudoers|crontab|fstab|hostname|resolv\.conf|mtab|inittab|profile|bashrc|master\.passwd|pwd\.db|security/|ssh/|mysql/|apache2?/|httpd/|nginx/|php\d?/|network/|init\.d/|cron|ld\.so|shells|environment|os-release|lsb-release|redhat-release|debian_version|netplan|wpa_supplicant|shells|issue\.net|aliases|exports|snmp|services|protocols|networks|machine-id)`,
    String.raw`(?:^|[/=\s'"(:])proc/(?:self|\d+|version|cmdline|mounts|net/|sched_debug|cpuinfo|meminfo|kcore)`,
    String.raw`(?:^|[/=\s'"(:])(?:root|home/[^/]{1,32})/\.(?:ssh|bash_history|bashrc|profile|aws|docker|kube|gnupg|mysql_history|zsh_history|netrc|pgpass|git-credentials)`,
    String.raw`\.ssh/(?:id_(?:rsa|dsa|ecdsa|ed25519)|authorized_keys|known_hosts|config)`,
    String.raw`(?:^|/)\.(?:htaccess|htpasswd|htdigest|env|git/(?:config|head)|svn/entries|bash_history|aws/credentials|docker/config\.json|npmrc|pgpass|netrc)(?:$|[\0?#\s])`,
    String.raw`(?:^|[/=\s'"(:])var/(?:log/(?:apache2?|httpd|nginx|auth\.log|syslog|messages|secure|mail)|www/|run/secrets|lib/mysql|mail/|spool/cron)`,
    String.raw`(?:^|[/=\s'"(:]|[a-z]:/)(?:windows|winnt)/(?:win\.ini|system\.ini|system32|syswow64|repair/|panther/|debug/netsetup|iis\d\.log|php\.ini|my\.ini)`,
    String.raw`(?:^|[/=\s'"(:]|[a-z]:/)(?:boot\.ini|win\.ini|system\.ini|autoexec\.bat|inetpub/|pagefile\.sys|hiberfil\.sys|xampp/|wamp/|program files)`,
    String.raw`(?:^|[/=\s'"(:])(?:web-inf/web\.xml|web\.config|wp-config\.php|config\.inc\.php|localsettings\.php|configuration\.php|settings\.py|database\.yml|application\.properties)`,
    String.raw`(?:^|[/=\s'"(:])(?:usr/local/(?:apache|etc)|usr/(?:local/)?etc/|opt/(?:lampp|xampp)/|sys/(?:class|kernel|power)/|dev/(?:mem|kmem|port))`,
  ].join('|'),
);

export function detectOsFile(input: string): PathHit | null {
  const t = normaliseForPath(input);
  const m = OS_FILE_RE.exec(t);
  return m ? { match: excerpt(t, m.index) } : null;
}

// Stream wrappers and schemes that turn an include into a file read or code execution.
const WRAPPER_RE = /\b(?:php|file|zip|phar|glob|expect|data|compress\.(?:zlib|bzip2)|zlib|ogg|rar|ssh2\.\w+):\/\/|\bphp:\/\/(?:filter|input|fd|memory|temp)|\bjar:(?:file|https?):|\bnetdoc:/i;

export function detectWrapper(input: string): PathHit | null {
  const m = WRAPPER_RE.exec(input);
  return m ? { match: excerpt(input, m.index) } : null;
}

/** A NUL byte (raw or `%00`) next to a path or file name: the classic extension-truncation trick. */
export function detectNullByte(input: string): PathHit | null {
  const i = input.indexOf('\0');
  if (i === -1) return null;
  const around = input.slice(Math.max(0, i - 64), i + 16);
  return /[/\\.]/.test(around) ? { match: excerpt(input, Math.max(0, i - 32)) } : null;
}

/** PL2: any absolute path into a system directory. */
const SYSTEM_DIR_RE = /(?:^|[\s=:'"(])(?:\/(?:etc|proc|sys|dev|root|boot|var\/log|usr\/(?:s?bin|lib)|s?bin|tmp)\/|[a-z]:\/(?:windows|winnt|users|documents and settings|program files|inetpub)\b)/;

export function detectSystemPath(input: string): PathHit | null {
  const t = normaliseForPath(input);
  const m = SYSTEM_DIR_RE.exec(t);
  return m ? { match: excerpt(t, m.index) } : null;
}
