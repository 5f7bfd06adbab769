/**
 * The DNS client directory (issue 6, point 3): a query's source address maps to the device last
 * seen there on an authenticated protocol, else to a `dns.clients` block, else to no one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LearnedClientDirectory } from '../../src/core/dns/client-directory.ts';

describe('LearnedClientDirectory', () => {
  it('maps a learned address to its device and segment, in any spelling of the address', () => {
    const d = new LearnedClientDirectory();
    d.learn('10.0.0.7:50123', 'cam-1', 'cameras');
    d.learn('[2001:db8::7]:443', 'plug-1', 'power');
    expect(d.lookup('10.0.0.7')).toEqual({ deviceId: 'cam-1', segment: 'cameras' });
    expect(d.lookup('::ffff:10.0.0.7')).toEqual({ deviceId: 'cam-1', segment: 'cameras' });
    expect(d.lookup('2001:0db8:0:0::7')).toEqual({ deviceId: 'plug-1', segment: 'power' });
    expect(d.lookup('10.0.0.8')).toEqual({ deviceId: null, segment: null });
  });

  it('prefers a learned device to a static block, and the most specific static block to a wider one', () => {
    const d = new LearnedClientDirectory({ staticClients: { '10.0.0.0/8': 'site', '10.1.0.0/16': 'lab', '::1': 'local' } });
    expect(d.lookup('10.2.3.4').segment).toBe('site');
    expect(d.lookup('10.1.3.4').segment).toBe('lab');
    expect(d.lookup('::1').segment).toBe('local');
    d.learn('10.1.3.4:1000', 'cam-9', 'cameras');
    expect(d.lookup('10.1.3.4')).toEqual({ deviceId: 'cam-9', segment: 'cameras' });
  });

  it('follows a device to a new address and into a new segment (quarantine) at once, despite the memo', () => {
    const d = new LearnedClientDirectory();
    d.learn('10.0.0.7:1', 'cam-1', 'cameras');
    expect(d.lookup('10.0.0.7').segment).toBe('cameras');
    d.moved('cam-1', 'quarantine');
    expect(d.lookup('10.0.0.7')).toEqual({ deviceId: 'cam-1', segment: 'quarantine' });
    d.learn('10.0.0.9:1', 'cam-1', 'quarantine');
    expect(d.lookup('10.0.0.9').deviceId).toBe('cam-1');
    // Another device now speaks from the old address: the address is its.
    d.learn('10.0.0.7:2', 'cam-2', 'cameras');
    expect(d.lookup('10.0.0.7').deviceId).toBe('cam-2');
    // Behind NAT: the first device speaks again from its own source; the last speaker has the address.
    d.learn('10.0.0.7:1', 'cam-1', 'quarantine');
    expect(d.lookup('10.0.0.7').deviceId).toBe('cam-1');
  });

  it('ignores sources it cannot read and stays bounded', () => {
    const d = new LearnedClientDirectory({ maxAddresses: 100 });
    d.learn('not an address', 'x', 'y');
    d.learn('', 'x', 'y');
    expect(d.lookup('not an address')).toEqual({ deviceId: null, segment: null });
    for (let i = 0; i < 300; i++) d.learn(`10.0.${i >> 8}.${i & 255}:1`, `d-${i}`, 's');
    // The oldest were forgotten, the newest kept.
    expect(d.lookup('10.0.0.0').deviceId).toBeNull();
    expect(d.lookup('10.0.1.43').deviceId).toBe('d-299');
  });

  it('answers every lookup with the last device learned at that address (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(15), fc.constantFrom('a', 'b', 'c'), fc.constantFrom('s1', 's2')), { maxLength: 60 }), (steps) => {
        const d = new LearnedClientDirectory();
        const model = new Map<number, { deviceId: string; segment: string }>();
        for (const [host, deviceId, segment] of steps) {
          d.learn(`192.0.2.${host}:5000`, deviceId, segment);
          model.set(host, { deviceId, segment });
          for (let h = 0; h < 16; h++) expect(d.lookup(`192.0.2.${h}`)).toEqual(model.get(h) ?? { deviceId: null, segment: null });
        }
      }),
    );
  });
});
