/**
 * Server-side request forgery URLs (issue 5, point 3; CRS 934xxx). Every `scheme://authority`
 * in the value is parsed; its host is classified the way a resolver or `inet_aton` would read
 * it, so `http://2130706433/`, `http://0x7f.1/`, `http://0177.0.0.1/`, `http://[::ffff:127.0.0.1]/`
 * and `http://127.0.0.1.nip.io/` are all loopback. Schemes that reach non-HTTP services from an
 * HTTP client (gopher, dict, file, ldap, tftp, jar, netdoc) are hits whatever the host.
 */

export type SsrfClass = 'scheme' | 'metadata' | 'loopback' | 'obfuscated' | 'private';

export interface SsrfHit {
  kind: SsrfClass;
  match: string;
}

const DANGEROUS_SCHEMES = new Set(['gopher', 'dict', 'file', 'ldap', 'ldaps', 'tftp', 'jar', 'netdoc', 'sftp', 'ldapi']);
const METADATA_HOSTS = new Set([
  'metadata.google.internal', 'metadata', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal',
  'metadata.azure.com', 'metadata.packet.net', 'metadata.tencentyun.com', '100.100.100.200',
  '169.254.169.254', '169.254.170.2', 'fd00:ec2::254', 'fd00:ec2::23',
]);

const WILDCARD_DNS_RE = /\.(?:nip\.io|sslip\.io|xip\.io|localtest\.me|traefik\.me)$/;

/** inet_aton: 1..4 parts, each decimal, octal (leading 0) or hex (0x). Returns [addr, obfuscated]. */
export function parseIpv4Loose(host: string): [number, boolean] | null {
  const c0 = host.charCodeAt(0);
  if (!(c0 >= 48 && c0 <= 57)) return null; // a name, not an address
  const vals: number[] = [];
  let odd = false;
  let i = 0;
  const n = host.length;
  while (i <= n) {
    // One part: 0x.., 0.. (octal) or decimal, up to the next '.' or the end.
    let end = host.indexOf('.', i);
    if (end === -1) end = n;
    if (end === i) return null;
    let v = 0;
    if (end - i >= 2 && host.charCodeAt(i) === 48 && (host.charCodeAt(i + 1) | 0x20) === 120) {
      odd = true;
      for (let k = i + 2; k < end; k++) {
        const c = host.charCodeAt(k) | 0x20;
        const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
        if (d < 0) return null;
        v = v * 16 + d;
      }
    } else {
      const octal = end - i >= 2 && host.charCodeAt(i) === 48;
      if (octal) odd = true;
      for (let k = i; k < end; k++) {
        const d = host.charCodeAt(k) - 48;
        if (d < 0 || d > (octal ? 7 : 9)) return null;
        v = v * (octal ? 8 : 10) + d;
      }
    }
    if (v > 0xffffffff) return null;
    vals.push(v);
    if (vals.length > 4) return null;
    i = end + 1;
    if (end === n) break;
  }
  if (vals.length !== 4) odd = true;
  const last = vals[vals.length - 1] ?? 0;
  const b = (k: number): number => vals[k] ?? 0;
  let addr: number;
  if (vals.length === 1) addr = last;
  else if (vals.length === 2) addr = b(0) * 2 ** 24 + last;
  else if (vals.length === 3) addr = b(0) * 2 ** 24 + b(1) * 2 ** 16 + last;
  else addr = b(0) * 2 ** 24 + b(1) * 2 ** 16 + b(2) * 2 ** 8 + last;
  if (vals.slice(0, -1).some((v) => v > 255) || addr > 0xffffffff) return null;
  return [addr, odd];
}

function classifyV4(addr: number): SsrfClass | null {
  const a = Math.floor(addr / 2 ** 24);
  const b2 = Math.floor(addr / 2 ** 16) & 0xff;
  if (a === 127 || a === 0) return 'loopback'; // RFC 1122 §3.2.1.3: 127/8 loopback, 0/8 "this host"
  if (a === 169 && b2 === 254) return 'metadata'; // RFC 3927 link-local, cloud metadata lives here
  if (addr === 0x646464c8) return 'metadata'; // 100.100.100.200 (Alibaba)
  if (a === 10 || (a === 172 && b2 >= 16 && b2 <= 31) || (a === 192 && b2 === 168)) return 'private'; // RFC 1918
  if (a === 100 && b2 >= 64 && b2 <= 127) return 'private'; // RFC 6598 shared address space
  return null;
}

/** Expands `a::b` to eight 16-bit groups (RFC 4291 §2.2); null when it is not IPv6 text. */
function expandV6(x: string): number[] | null {
  if (x.indexOf('.') !== -1) return null;
  const halves = x.split('::');
  if (halves.length > 2) return null;
  const parse = (p: string): number[] | null => {
    if (p === '') return [];
    const out: number[] = [];
    for (const g of p.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

function classifyV6(h: string): SsrfClass | null {
  const x = h.toLowerCase();
  const g = expandV6(x);
  if (g !== null && g.slice(0, 7).every((v) => v === 0) && ((g[7] ?? 0) <= 1)) return 'loopback'; // ::1 and ::
  if (g !== null && g.slice(0, 5).every((v) => v === 0) && g[5] === 0xffff) {
    return classifyV4((g[6] ?? 0) * 65536 + (g[7] ?? 0)) ?? 'obfuscated'; // ::ffff:a.b.c.d in hex
  }
  if (x === '::1' || x === '::' || /^0*:0*:0*:0*:0*:0*:0*:0*1?$/.test(x) || /^(?:0+:){7}0*1$/.test(x)) return 'loopback';
  const mapped = /^::ffff:(?:0+:)?([\d.]+)$/.exec(x) ?? /^::([\d.]+)$/.exec(x);
  if (mapped !== null) {
    const v4 = parseIpv4Loose(mapped[1] ?? '');
    if (v4 !== null) return classifyV4(v4[0]) ?? 'obfuscated';
  }
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(x)) return 'obfuscated';
  if (METADATA_HOSTS.has(x)) return 'metadata';
  if (/^fe[89ab][0-9a-f]?:/.test(x)) return 'metadata'; // RFC 4291 link-local
  if (/^f[cd][0-9a-f]{2}:/.test(x)) return 'private'; // RFC 4193 unique local
  return null;
}

export function classifyHost(rawHost: string): SsrfClass | null {
  let h = rawHost.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return classifyV6(h.slice(1, end === -1 ? undefined : end).replace(/%.*$/, ''));
  }
  const colon = h.lastIndexOf(':');
  if (colon !== -1) h = h.slice(0, colon); // port
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0) return null;
  if (METADATA_HOSTS.has(h)) return 'metadata';
  if (h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain' || h === 'ip6-localhost') return 'loopback';
  const v4 = parseIpv4Loose(h);
  if (v4 !== null) {
    const cls = classifyV4(v4[0]);
    if (v4[1]) return cls === 'private' || cls === null ? 'obfuscated' : cls;
    return cls;
  }
  // Wildcard DNS services that resolve a name to the address written in it.
  const wild = WILDCARD_DNS_RE.test(h) ? /((?:\d{1,3}[.-]){3}\d{1,3})\.[a-z]+\.[a-z]+$/.exec(h) : null;
  if (wild !== null) {
    const inner = parseIpv4Loose((wild[1] ?? '').replace(/-/g, '.'));
    if (inner !== null) return classifyV4(inner[0]) ?? null;
  }
  if (h.endsWith('.localtest.me') || h === 'localtest.me') return 'loopback';
  return null;
}

function isSchemeChar(c: number): boolean {
  const l = c | 0x20;
  return (l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46; // a-z 0-9 + - .
}

// Characters that end an authority (RFC 3986 §3.2): / ? # plus what cannot be in a URL at all.
function endsAuthority(c: number): boolean {
  return c === 47 || c === 63 || c === 35 || c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 92;
}

/** All SSRF-looking URLs in `input` (RFC 3986 §3: scheme "://" authority). */
export function scanUrls(input: string): SsrfHit[] {
  const hits: SsrfHit[] = [];
  let from = 0;
  for (let guard = 0; guard < 32; guard++) {
    const k = input.indexOf('://', from);
    if (k === -1) break;
    from = k + 3;
    let st = k;
    while (st > 0 && k - st < 16 && isSchemeChar(input.charCodeAt(st - 1))) st--;
    while (st < k && ((input.charCodeAt(st) | 0x20) < 97 || (input.charCodeAt(st) | 0x20) > 122)) st++; // starts with a letter
    if (st === k) continue;
    let end = from;
    while (end < input.length && end - from < 255 && !endsAuthority(input.charCodeAt(end))) end++;
    const scheme = input.slice(st, k).toLowerCase();
    if (DANGEROUS_SCHEMES.has(scheme)) {
      hits.push({ kind: 'scheme', match: input.slice(st, st + 64) });
      continue;
    }
    const authority = input.slice(from, end);
    const at = authority.lastIndexOf('@');
    const cls = classifyHost(at === -1 ? authority : authority.slice(at + 1));
    if (cls !== null) hits.push({ kind: cls, match: input.slice(st, st + 64) });
  }
  return hits;
}
