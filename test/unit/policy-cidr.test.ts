/** The core CIDR matcher (which may not use node:net) checked against node:net's BlockList. */
import { BlockList, isIPv4 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, formatAddress, formatSource, parseCidr, parseIp, parseSourceAddress } from '../../src/core/policy/cidr.ts';

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

describe('CIDR matcher agrees with node:net BlockList', () => {
  it('IPv4 ranges and addresses', () => {
    fc.assert(
      fc.property(v4, fc.nat(32), v4, (net, bits, addr) => {
        const list = new BlockList();
        list.addSubnet(net, bits, 'ipv4');
        expect(cidrContains(parseCidr(`${net}/${bits}`)!, parseIp(addr)!)).toBe(list.check(addr, 'ipv4'));
      }),
      { numRuns: 3000 },
    );
  });

  it('IPv6 ranges and addresses, near and far', () => {
    fc.assert(
      fc.property(v6, fc.nat(128), fc.oneof(v6, fc.constant(null)), fc.nat(7), (net, bits, other, flip) => {
        // Half the time probe an address that shares a long prefix with the network.
        const addr = other ?? net.split(':').map((g, i) => (i === flip ? (parseInt(g, 16) ^ 1).toString(16) : g)).join(':');
        const list = new BlockList();
        list.addSubnet(net, bits, 'ipv6');
        expect(cidrContains(parseCidr(`${net}/${bits}`)!, parseIp(addr)!)).toBe(list.check(addr, 'ipv6'));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts exactly the IPv4 addresses node:net accepts (dotted quads without leading zeros)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(300).map(String), fc.constantFrom('01', '00', '', 'x', '1e1')), { minLength: 3, maxLength: 5 }), (parts) => {
        const text = parts.join('.');
        expect(parseIp(text) !== null).toBe(isIPv4(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('address and source text', () => {
  it('formats an address one way whatever its spelling, and a source so parseSourceAddress reads it back', () => {
    expect(formatAddress(parseIp('::ffff:10.0.0.7')!)).toBe('10.0.0.7');
    expect(formatAddress(parseIp('10.0.0.7')!)).toBe('10.0.0.7');
    expect(formatAddress(parseIp('2001:0db8:0:0::7')!)).toBe('2001:db8::7');
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (address, port) => {
        const source = formatSource(address, port);
        expect(source.endsWith(`:${port}`)).toBe(true);
        expect(formatAddress(parseSourceAddress(source)!)).toBe(formatAddress(parseIp(address)!));
      }),
    );
  });
});
