/**
 * Address keys of the ban list: parse, normalise and match addresses and CIDR blocks, IPv4 and
 * IPv6 alike, through core/policy/cidr.ts (every address as 16 bytes, IPv4 as the IPv4-mapped
 * form of RFC 4291 §2.5.5.2, so `10.0.0.0/8` also matches a dual-stack socket's
 * `::ffff:10.0.0.7`).
 */
import { cidrContains, formatAddress, formatIpv6, isIpv4Mapped, parseCidr, parseIp, type Cidr } from '../../core/policy/cidr.ts';

function formatCidr(c: Cidr): string {
  if (isIpv4Mapped(c.network) && c.bits >= 96) {
    const v4 = formatAddress(c.network);
    return c.bits === 128 ? v4 : `${v4}/${c.bits - 96}`;
  }
  const v6 = formatIpv6(c.network);
  return c.bits === 128 ? v6 : `${v6}/${c.bits}`;
}

/** The stored form of an address ban (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`), or null when malformed. */
export function normaliseAddressBan(text: string): string | null {
  const c = parseCidr(text.trim());
  return c === null ? null : formatCidr(c);
}

export interface AddressEntry<T> {
  cidr: Cidr;
  item: T;
}

/** Exact addresses by their 16 bytes in a map; blocks scanned (there are few of them). */
export class AddressIndex<T> {
  readonly #exact = new Map<string, T[]>();
  readonly #blocks: Array<AddressEntry<T>> = [];

  add(text: string, item: T): void {
    const c = parseCidr(text);
    if (c === null) return;
    if (c.bits === 128) {
      const key = Buffer.from(c.network).toString('hex');
      const list = this.#exact.get(key);
      if (list) list.push(item);
      else this.#exact.set(key, [item]);
    } else {
      this.#blocks.push({ cidr: c, item });
    }
  }

  /** The first entry containing the address (exact ones first); null for an unparsable address. */
  match(address: string, accept: (item: T) => boolean = () => true): T | null {
    const a = parseIp(address);
    if (a === null) return null;
    for (const e of this.#exact.get(Buffer.from(a).toString('hex')) ?? []) if (accept(e)) return e;
    for (const b of this.#blocks) if (cidrContains(b.cidr, a) && accept(b.item)) return b.item;
    return null;
  }
}
