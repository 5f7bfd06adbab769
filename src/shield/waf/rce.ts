/**
 * Command-injection detection (issue 5, point 3; CRS 932xxx). Not one regex: the value is
 * de-obfuscated the way a shell would read it (quotes inside words, backslash escapes, `$@`,
 * `${IFS}`, brace lists), cut into tokens at shell separators (`;` `|` `||` `&` `&&` newline
 * `$(` backtick `<(` `>(`), and the first word after each separator is looked up in lists of
 * Unix and Windows commands. Prose uses `;`, `&` and `|` too ("Tom & Jerry"), so a word that is
 * also common English ("cat", "id", "sleep", "type") counts only when something command-like
 * follows it: an option, a path, a variable, a redirection, another separator or the end.
 */

/** Unix and Windows commands an injection runs (a strong signal after a shell separator). */
const COMMANDS = new Set([
  'whoami', 'uname', 'ifconfig', 'ipconfig', 'wget', 'curl', 'nc', 'ncat', 'netcat', 'bash', 'sh', 'zsh',
  'ksh', 'dash', 'csh', 'tcsh', 'rbash', 'busybox', 'python', 'python2', 'python3', 'perl', 'php', 'ruby',
  'lua', 'telnet', 'nslookup', 'chmod', 'chown', 'passwd', 'sudo', 'netstat', 'xterm', 'socat', 'nmap',
  'base64', 'xxd', 'mkfifo', 'systeminfo', 'tasklist', 'taskkill', 'certutil', 'bitsadmin', 'powershell',
  'pwsh', 'cmd', 'wmic', 'rundll32', 'regsvr32', 'mshta', 'cscript', 'wscript', 'useradd', 'crontab',
  'killall', 'pkill', 'printenv', 'getent', 'tftp', 'uptime', 'hostname', 'ifup', 'iptables', 'nohup',
  'gcc', 'awk', 'gawk', 'xargs', 'sleep', 'ping', 'cat', 'ls', 'id', 'env', 'pwd', 'rm', 'dir', 'net',
  'ver', 'echo', 'set', 'type', 'del', 'copy', 'move', 'timeout', 'kill', 'ps', 'head', 'tail', 'more',
  'less', 'touch', 'cp', 'mv', 'find', 'grep', 'sed', 'who', 'w', 'last', 'df', 'du', 'mount', 'cd',
  'expr', 'eval', 'exec', 'exit', 'ssh', 'scp', 'ftp', 'dig', 'host', 'sort', 'tee', 'od', 'file',
  'tac', 'nl', 'rev', 'cut', 'diff', 'strings', 'reg', 'sc', 'start', 'call', 'md', 'mkdir', 'rmdir',
  'chdir', 'ren', 'attrib', 'arp', 'route', 'tracert', 'traceroute', 'shutdown', 'reboot', 'halt',
  'wc', 'uniq', 'fetch', 'lwp-download', 'jexec', 'java', 'node', 'openssl', 'dd', 'tar', 'zip',
  'unzip', 'gzip', 'ln', 'su', 'groups', 'lsof', 'top', 'free', 'whereis', 'which', 'history',
  'export', 'unset', 'alias', 'source', 'read', 'printf', 'bc', 'test', 'true', 'false', 'yes',
]);

/** Of the above, the ones that are also ordinary words: they need a command-like follower. */
const WEAK = new Set([
  'sleep', 'ping', 'cat', 'id', 'env', 'rm', 'dir', 'net', 'ver', 'echo', 'set', 'type', 'del', 'copy',
  'move', 'timeout', 'kill', 'head', 'tail', 'more', 'less', 'touch', 'find', 'who', 'w', 'last', 'cd',
  'exit', 'host', 'sort', 'file', 'start', 'call', 'md', 'route', 'fetch', 'top', 'free', 'which',
  'history', 'export', 'source', 'read', 'test', 'true', 'false', 'yes', 'groups', 'tee', 'cut',
  'strings', 'ls', 'ps', 'sc', 'nl', 'od', 'su', 'dd', 'ln', 'bc', 'wc', 'reg', 'tar', 'zip', 'java',
  'node', 'shutdown', 'reboot', 'halt', 'exec', 'eval', 'unset', 'alias', 'uniq', 'diff', 'rev', 'tac',
  'mount', 'grep', 'sed', 'awk', 'cp', 'mv', 'df', 'du', 'pwd', 'uptime', 'hostname', 'dig', 'printf',
]);

/** Strip what a shell ignores inside a word, so `w'h'o'am'i`, `c\at` and `/???/c?t` read plainly. */
export function deobfuscateShell(s: string): string {
  let t = s;
  if (t.indexOf('$') !== -1) {
    // ${IFS}, $IFS$9, ${IFS%??}: the field separator, i.e. a space.
    t = t.replace(/\$\{IFS[^}]{0,8}\}|\$IFS(?:\$\d)?/g, ' ');
    // Empty expansions that split nothing: $@ $* ${x} with empty names, $9 positional parameters.
    t = t.replace(/\$[@*]|\$\{\}|\$\d(?![\d.])/g, '');
  }
  if (/['"\\]/.test(t)) {
    // Quotes and backslashes inside words (c'a't, c"a"t, c\at, w\ho\am\i); twice for overlaps.
    t = t.replace(/(?<=[A-Za-z0-9_/.-])(?:''|""|['"\\])(?=[A-Za-z0-9_/.-])/g, '');
    t = t.replace(/(?<=[A-Za-z0-9_/.-])(?:''|""|['"\\])(?=[A-Za-z0-9_/.-])/g, '');
  }
  if (t.indexOf('{') !== -1) {
    // Brace lists {cat,/etc/passwd} run as "cat /etc/passwd".
    t = t.replace(/\{([A-Za-z0-9_./-]+),([^{}]{0,200})\}/g, (_m, a: string, b: string) => `${a} ${b.replace(/,/g, ' ')}`);
  }
  return t;
}

const SEP_RE = /(?:\|\||&&|[;|&\n\r`]|\$\(|[<>]\(|\$\{?\(|^)[\s({]*/g;
const WORD_RE = /^(?:["']?)((?:[A-Za-z]:)?(?:[/\\]?(?:[\w.-]+[/\\])*)?)([A-Za-z][\w.+-]{0,30})/;

/** What follows a weak command word that makes it look like a command: option, path, var, end. */
function commandLikeFollower(rest: string): boolean {
  if (rest.length === 0) return true;
  const c = rest[0] ?? '';
  if (';|&`<>\n\r)$\'"{#'.includes(c)) return true;
  if (c !== ' ' && c !== '\t' && c !== '+') return false;
  const after = rest.replace(/^[ \t+]+/, '');
  if (after.length === 0) return true;
  const a = after[0] ?? '';
  if ('-/\\~$.{`\'"%;|&<>#'.includes(a)) return true;
  if (/^[A-Za-z]:[\\/]/.test(after)) return true;
  if (/^[A-Za-z][\w+.-]{0,15}:\/\//.test(after)) return true; // a URL: wget http://…
  // `sleep 5`, `ping 127.0.0.1`, `ping -n 3`: a number or an address, then the end or a separator.
  if (/^\d[\d.]*\s*(?:$|[;|&`#)\n\r'"]|\[)/.test(after)) return true;
  // `ps aux;`, `net user&`, `echo pwned|`: one plain argument, then the end or a separator.
  if (/^[\w.-]{1,20}\s*(?:$|[;|&`#'")\n\r])/.test(after)) return true;
  return false;
}

export interface ShellHit {
  match: string;
}

function excerpt(s: string, at: number): string {
  return s.slice(Math.max(0, at), at + 64);
}

/** The PL1 command-injection check on one string. */
export function detectShellInjection(input: string): ShellHit | null {
  const s = deobfuscateShell(input);
  if (/\$\{IFS|\$IFS\b/.test(input)) return { match: excerpt(input, input.indexOf('$')) };
  if (/\/dev\/(?:tcp|udp)\/|\bbash\s+-i\b|\bnc(?:at)?\s+(?:-\w+\s+)*-[ec]\b|\bmkfifo\s+\/tmp/.test(s)) {
    return { match: excerpt(s, 0) };
  }
  SEP_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = SEP_RE.exec(s)) !== null) {
    const start = m.index + m[0].length;
    if (m[0].length === 0) SEP_RE.lastIndex++;
    const sepAtStart = m.index === 0 && !/^(?:\|\||&&|[;|&\n\r`]|\$\(|[<>]\()/.test(m[0]);
    const wm = WORD_RE.exec(s.slice(start, start + 200));
    if (wm === null) continue;
    const prefix = wm[1] ?? '';
    const word = (wm[2] ?? '').toLowerCase().replace(/\.exe$/, '');
    if (!COMMANDS.has(word)) continue;
    const rest = s.slice(start + wm[0].length, start + wm[0].length + 100);
    if (sepAtStart) {
      // No separator before it: the value itself starts with a command. Only a path prefix
      // (/bin/cat) or a strong command with a command-like follower counts at PL1.
      if (prefix.length > 0 && /(?:^|[/\\])(?:s?bin|system32)[/\\]$/i.test(prefix)) return { match: excerpt(s, start) };
      continue;
    }
    if (WEAK.has(word) && prefix.length === 0 && !commandLikeFollower(rest)) continue;
    return { match: excerpt(s, m.index) };
  }
  return null;
}

/** Windows / PowerShell forms that need no separator: `cmd /c`, `powershell -enc`, `IEX(...)`. */
const WIN_RE = /\bcmd(?:\.exe)?["']?\s+\/[ck]\b|\b(?:powershell|pwsh)(?:\.exe)?\s+(?:-\w+\s+)*-(?:e|ec|enc|encodedcommand|c|command|nop|noprofile|w|windowstyle|exec|executionpolicy)\b|\biex\s*\(|\binvoke-(?:expression|webrequest|command|item)\b|\bnew-object\s+(?:system\.)?net\.webclient\b|\.downloadstring\s*\(|\bstart-process\b|%comspec%/i;

export function detectWindowsCommand(input: string): ShellHit | null {
  const m = WIN_RE.exec(input);
  return m ? { match: excerpt(input, m.index) } : null;
}

/** Code injection into an interpreter (CRS 933/944): PHP calls after a break-out, Log4Shell. */
const CODE_RE = /<\?(?:php|=)|(?:^|[;'")}.])\s*\.?\s*(?:exit|die|eval|assert|system|passthru|shell_exec|exec|popen|proc_open|phpinfo|pcntl_exec|file_get_contents|include|require)\s*\(|__import__\s*\(\s*['"]os|require\s*\(\s*['"]child_process|runtime\.getruntime\(\)\.exec|\bdata:;base64,|\bexpect:\/\//i;

// Log4Shell (CVE-2021-44228): `${jndi:…}`, also spelled with nested lookups that each yield one
// letter: ${${lower:j}ndi:…}, ${${::-j}${::-n}di:…}, ${${env:X:-j}ndi:…}. Those are folded first.
const DEFAULT_LOOKUP_RE = /\$\{[^{}$]{0,40}?:-([^{}$]{0,8})\}/g; // ${env:X:-j}, ${::-j}
const CASE_LOOKUP_RE = /\$\{(?:lower|upper|env|sys|date|main|bundle|ctx|map|sd|marker|java):([^{}$:]{0,8})\}/g; // ${lower:j}

function log4Shell(input: string): number {
  if (input.indexOf('${') === -1) return -1;
  let t = input.toLowerCase();
  for (let pass = 0; pass < 3 && t.indexOf('${') !== -1; pass++) {
    if (t.indexOf('${jndi:') !== -1) break;
    const next = t.replace(DEFAULT_LOOKUP_RE, '$1').replace(CASE_LOOKUP_RE, '$1');
    if (next === t) break;
    t = next;
  }
  return t.indexOf('${jndi:');
}

export function detectCodeInjection(input: string): ShellHit | null {
  const m = CODE_RE.exec(input);
  if (m) return { match: excerpt(input, m.index) };
  const j = log4Shell(input);
  return j === -1 ? null : { match: excerpt(input, Math.min(j, input.length)) };
}

/** PL2: a value that starts with a command and an argument (`cat /etc/x`, `wget http://…`), or redirects to a path. */
export function detectBareCommand(input: string): ShellHit | null {
  const s = deobfuscateShell(input).trimStart();
  const wm = /^((?:[/\\]?(?:[\w.-]+[/\\])*)?)([A-Za-z][\w.+-]{0,30})/.exec(s);
  if (wm !== null) {
    const word = (wm[2] ?? '').toLowerCase().replace(/\.exe$/, '');
    if (COMMANDS.has(word)) {
      const rest = s.slice(wm[0].length, wm[0].length + 100);
      if (rest.length > 0 && commandLikeFollower(rest)) return { match: excerpt(s, 0) };
    }
  }
  const r = /(?:^|[^<>])>{1,2}\s*(?:\/|[A-Za-z]:\\)\S/.exec(s);
  return r ? { match: excerpt(s, r.index) } : null;
}
