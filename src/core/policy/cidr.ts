/**
 * A small IPv4/IPv6 address and CIDR matcher for `sourceCidr` conditions. Core may not import
 * node:net (DESIGN.md §2), so this parses addresses itself. Every address is held as 16 bytes:
 * IPv4 as the IPv4-mapped IPv6 address `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), so an IPv4 range
 * also matches a dual-stack socket's `::ffff:10.0.0.7`, and `a.b.c.d/n` is `::ffff:a.b.c.d/(96+n)`.
 */

export type Address = Uint8Array;

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIpv4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    // No leading zeros: `010` is octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[offset + i] = n;
  }
  return true;
}

function parseIpv4(text: string): Address | null {
  const out = new Uint8Array(16);
  out.set(V4_MAPPED_PREFIX, 0);
  return parseIpv4Into(text, out, 12) ? out : null;
}

/** RFC 4291 §2.2 text forms, including `::` and a trailing dotted IPv4; a zone id (`%eth0`) is ignored. */
function parseIpv6(input: string): Address | null {
  const zone = input.indexOf('%');
  const text = zone >= 0 ? input.slice(0, zone) : input;
  if (text.length < 2 || text.length > 45) return null;
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] ?? '').split(':')) : [];
  const groups: number[] = [];
  const pushGroups = (list: string[], isLast: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i] ?? '';
      if (isLast && i === list.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4Into(g, v4, 0)) return false;
        groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      groups.push(parseInt(g, 16));
    }
    return true;
  };
  const compressed = halves.length === 2;
  if (!pushGroups(head, !compressed)) return null;
  const headCount = groups.length;
  if (!pushGroups(tail, true)) return null;
  const tailCount = groups.length - headCount;
  if (compressed ? headCount + tailCount > 7 : headCount !== 8) return null;
  const fill = 8 - headCount - tailCount;
  const all = [...groups.slice(0, headCount), ...new Array<number>(compressed ? fill : 0).fill(0), ...groups.slice(headCount)];
  for (let i = 0; i < 8; i++) {
    const g = all[i] ?? 0;
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

/** RFC 5952 text of 16 address bytes: lower case, the longest run of two or more zero groups (the first on a tie) as `::`. */
export function formatIpv6(a: Address): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((a[i * 2] ?? 0) << 8) | (a[i * 2 + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Whether 16 address bytes hold an IPv4 address (the IPv4-mapped form, RFC 4291 §2.5.5.2). */
export function isIpv4Mapped(a: Address): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** One text per address whatever its spelling: a dotted quad for IPv4, RFC 5952 for IPv6. */
export function formatAddress(a: Address): string {
  return isIpv4Mapped(a) ? `${a[12]}.${a[13]}.${a[14]}.${a[15]}` : formatIpv6(a);
}

/** A request source as adapters report it, `a.b.c.d:port` or `[v6]:port` (parseSourceAddress reads it back). */
export function formatSource(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A bare IPv4 or IPv6 address, or null. */
export function parseIp(text: string): Address | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/**
 * The address of a request source as adapters report it: a bare address, `a.b.c.d:port` or
 * `[v6]:port`. Null when it is none of these.
 */
export function parseSourceAddress(source: string): Address | null {
  if (source.startsWith('[')) {
    const end = source.indexOf(']');
    if (end < 0) return null;
    const rest = source.slice(end + 1);
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return null;
    return parseIpv6(source.slice(1, end));
  }
  const firstColon = source.indexOf(':');
  if (firstColon >= 0 && firstColon === source.lastIndexOf(':') && source.includes('.')) {
    if (!/^[0-9]{1,5}$/.test(source.slice(firstColon + 1))) return null;
    return parseIpv4(source.slice(0, firstColon));
  }
  return parseIp(source);
}

export interface Cidr {
  readonly network: Address;
  /** Prefix length over the 128-bit form. */
  readonly bits: number;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addrText);
  if (address === null) return null;
  const v4 = !addrText.includes(':');
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
    bits = Number(lenText);
    if (bits > max) return null;
  }
  if (v4) bits += 96;
  // Host bits are cleared, so `10.1.2.3/8` means 10.0.0.0/8 rather than failing to match.
  const network = new Uint8Array(address);
  for (let bit = bits; bit < 128; bit++) network[bit >> 3] = (network[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  return { network, bits };
}

export function cidrContains(cidr: Cidr, address: Address): boolean {
  const full = cidr.bits >> 3;
  for (let i = 0; i < full; i++) if (cidr.network[i] !== address[i]) return false;
  const rest = cidr.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[full] ?? 0) & mask) === cidr.network[full];
}

/** A list of ranges; an address matches when any range contains it. */
export class CidrSet {
  readonly #ranges: readonly Cidr[];

  constructor(ranges: readonly Cidr[]) {
    this.#ranges = ranges;
  }

  /** Throws nothing: malformed entries are the parser's job (parsePolicyDocument refuses them). */
  static parse(texts: readonly string[]): CidrSet {
    const ranges: Cidr[] = [];
    for (const t of texts) {
      const c = parseCidr(t);
      if (c) ranges.push(c);
    }
    return new CidrSet(ranges);
  }

  contains(address: Address): boolean {
    for (const r of this.#ranges) if (cidrContains(r, address)) return true;
    return false;
  }
}
