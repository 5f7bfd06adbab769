import { describe, expect, it } from 'vitest';
import { CidrSet, cidrContains, parseCidr, parseIp, parseSourceAddress } from './cidr.ts';

const hex = (a: Uint8Array | null): string | null => (a === null ? null : Buffer.from(a).toString('hex'));

describe('addresses', () => {
  it('parses IPv4 as IPv4-mapped IPv6', () => {
    expect(hex(parseIp('10.1.2.3'))).toBe('00000000000000000000ffff0a010203');
    expect(hex(parseIp('::ffff:10.1.2.3'))).toBe('00000000000000000000ffff0a010203');
  });

  it('parses the IPv6 text forms of RFC 4291 §2.2', () => {
    expect(hex(parseIp('::'))).toBe('0'.repeat(32));
    expect(hex(parseIp('::1'))).toBe(`${'0'.repeat(31)}1`);
    expect(hex(parseIp('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(parseIp('2001:DB8:0:0:8:800:200C:417A'))).toBe('20010db80000000000080800200c417a');
    expect(hex(parseIp('fe80::1%eth0'))).toBe('fe800000000000000000000000000001');
    expect(hex(parseIp('1::'))).toBe(`0001${'0'.repeat(28)}`);
    expect(hex(parseIp('64:ff9b::192.0.2.33'))).toBe('0064ff9b0000000000000000c0000221');
  });

  it('refuses malformed addresses', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-1', 'a.b.c.d', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', '::1.2.3', '1.2.3.4::', '1:2:3:4:5:6:7::8']) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('reads sources with and without ports', () => {
    expect(hex(parseSourceAddress('10.0.0.1:8883'))).toBe(hex(parseIp('10.0.0.1')));
    expect(hex(parseSourceAddress('[2001:db8::1]:8883'))).toBe(hex(parseIp('2001:db8::1')));
    expect(hex(parseSourceAddress('[::1]'))).toBe(hex(parseIp('::1')));
    expect(hex(parseSourceAddress('2001:db8::1'))).toBe(hex(parseIp('2001:db8::1')));
    for (const bad of ['10.0.0.1:', '10.0.0.1:x', '[::1', '[::1]:', '[::1]x', 'host:80']) expect(parseSourceAddress(bad), bad).toBeNull();
  });
});

describe('CIDR', () => {
  it('matches prefixes on and off byte boundaries, IPv4 also in mapped form', () => {
    const v4 = parseCidr('10.20.0.0/14')!;
    expect(cidrContains(v4, parseIp('10.23.255.255')!)).toBe(true);
    expect(cidrContains(v4, parseIp('10.24.0.0')!)).toBe(false);
    expect(cidrContains(v4, parseIp('::ffff:10.20.1.1')!)).toBe(true);
    const v6 = parseCidr('2001:db8:8000::/33')!;
    expect(cidrContains(v6, parseIp('2001:db8:ffff::1')!)).toBe(true);
    expect(cidrContains(v6, parseIp('2001:db8:7fff::1')!)).toBe(false);
  });

  it('clears host bits, treats bare addresses as single hosts, and /0 as everything of its family', () => {
    expect(cidrContains(parseCidr('10.1.2.3/8')!, parseIp('10.200.0.1')!)).toBe(true);
    expect(cidrContains(parseCidr('10.1.2.3')!, parseIp('10.1.2.4')!)).toBe(false);
    expect(cidrContains(parseCidr('10.1.2.3')!, parseIp('10.1.2.3')!)).toBe(true);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('203.0.113.9')!)).toBe(true);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('2001:db8::1')!)).toBe(false);
    expect(cidrContains(parseCidr('::/0')!, parseIp('203.0.113.9')!)).toBe(true);
  });

  it('refuses malformed ranges', () => {
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', 'x/8', '10.0.0.0/8/8']) expect(parseCidr(bad), bad).toBeNull();
  });

  it('a set matches when any range does', () => {
    const set = CidrSet.parse(['10.0.0.0/8', '2001:db8::/32']);
    expect(set.contains(parseIp('10.9.9.9')!)).toBe(true);
    expect(set.contains(parseIp('2001:db8::9')!)).toBe(true);
    expect(set.contains(parseIp('192.168.1.1')!)).toBe(false);
  });
});
