/** Flapping detection keyed by client id, username and address (shield/flapping.ts), on a fake clock. */
import { describe, expect, it } from 'vitest';
import { FlappingDetector } from '../../src/shield/flapping.ts';

const settings = { maxConnects: 3, windowSeconds: 10, banSeconds: 60, exemptAddresses: [] };

describe('FlappingDetector', () => {
  it('catches one client id reconnecting, only past maxConnects within the window', () => {
    let now = 0;
    const f = new FlappingDetector(settings, () => now);
    const keys = (i: number) => ({ address: `192.0.2.${i}`, clientId: 'dev-1', username: null });
    for (let i = 0; i < 3; i++) expect(f.record(keys(i))).toEqual([]);
    expect(f.record(keys(3))).toEqual([{ kind: 'client-id', value: 'dev-1', connects: 4 }]);
    // After a flap the key starts counting again.
    expect(f.record(keys(4))).toEqual([]);
    // Attempts spread wider than the window never flap.
    const g = new FlappingDetector(settings, () => now);
    for (let i = 0; i < 20; i++) {
      now = 20_000 + i * 4000;
      expect(g.record({ address: '192.0.2.1', clientId: 'slow', username: null })).toEqual([]);
    }
  });

  it('still catches a client rotating client ids, by address and by username', () => {
    const f = new FlappingDetector(settings, () => 0);
    const flaps = [];
    for (let i = 0; i < 4; i++) flaps.push(...f.record({ address: '203.0.113.9', clientId: `rot-${i}`, username: 'meter-1' }));
    expect(flaps).toEqual([
      { kind: 'address', value: '203.0.113.9', connects: 4 },
      { kind: 'username', value: 'meter-1', connects: 4 },
    ]);
    // The same username from ever-new addresses and ids: the username key.
    const g = new FlappingDetector(settings, () => 0);
    const byUser = [];
    for (let i = 0; i < 4; i++) byUser.push(...g.record({ address: `2001:db8::${i + 1}`, clientId: `c${i}`, username: 'u' }));
    expect(byUser).toEqual([{ kind: 'username', value: 'u', connects: 4 }]);
  });

  it('skips exempt addresses entirely, and does nothing when disabled', () => {
    const f = new FlappingDetector({ ...settings, exemptAddresses: ['127.0.0.0/8', '::1'] }, () => 0);
    for (let i = 0; i < 10; i++) expect(f.record({ address: '127.0.0.5', clientId: 'x', username: 'y' })).toEqual([]);
    for (let i = 0; i < 10; i++) expect(f.record({ address: '::1', clientId: 'x', username: 'y' })).toEqual([]);
    const off = new FlappingDetector({ ...settings, enabled: false }, () => 0);
    for (let i = 0; i < 10; i++) expect(off.record({ address: '192.0.2.1', clientId: 'x', username: 'y' })).toEqual([]);
  });
});
