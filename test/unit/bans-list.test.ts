/**
 * The ban list (shield/bans): CIDR matching for IPv4 and IPv6, normalisation, expiry, keyed
 * bans, and a second store connection on the same SQLite file (another process's view) seeing
 * changes through the generation poll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.ts';
import { normaliseAddressBan } from '../../src/shield/bans/address.ts';
import { StoreBanList, normaliseBan } from '../../src/shield/bans/ban-list.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

let dir: string;
let store: Store;
let now: number;
let list: StoreBanList;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-bans-'));
  store = await openSqliteStore(join(dir, 'palisade.db'));
  now = 1_800_000_000_000;
  list = new StoreBanList(store.bans, { now: () => now, reloadMs: 20 });
  await list.start();
});

afterEach(async () => {
  list.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ban = (kind: 'address' | 'client-id' | 'username' | 'certificate', value: string, expiresAt: number | null = null) => ({ kind, value, reason: 'test', expiresAt, by: 'test' });

describe('address bans', () => {
  it('normalises addresses and blocks (host bits cleared, RFC 5952 IPv6 text)', () => {
    expect(normaliseAddressBan('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(normaliseAddressBan('192.0.2.7')).toBe('192.0.2.7');
    expect(normaliseAddressBan('2001:DB8:0:0:0:0:0:1/32')).toBe('2001:db8::/32');
    expect(normaliseAddressBan('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(normaliseAddressBan('::1')).toBe('::1');
    expect(normaliseAddressBan('::ffff:10.0.0.1/120')).toBe('10.0.0.0/24');
    for (const bad of ['300.1.1.1', '10.0.0.0/33', '2001:db8::/129', 'example.com', '', '1.2.3']) expect(normaliseAddressBan(bad)).toBeNull();
    expect(() => normaliseBan(ban('address', 'nope'))).toThrow(/not an IPv4 or IPv6/);
  });

  it('matches IPv4 and IPv6 blocks, including IPv4-mapped addresses of a dual-stack socket', async () => {
    const v4 = await list.add(ban('address', '10.0.0.0/8'));
    const v6 = await list.add(ban('address', '2001:db8:abcd::/48'));
    const one = await list.add(ban('address', '192.0.2.55'));
    expect(list.match({ address: '10.200.3.4' })?.id).toBe(v4.id);
    expect(list.match({ address: '::ffff:10.0.0.7' })?.id).toBe(v4.id);
    expect(list.match({ address: '11.0.0.1' })).toBeNull();
    expect(list.match({ address: '2001:db8:abcd:1::5' })?.id).toBe(v6.id);
    expect(list.match({ address: '2001:db8:abce::5' })).toBeNull();
    expect(list.match({ address: '192.0.2.55' })?.id).toBe(one.id);
    expect(list.match({ address: '::ffff:192.0.2.55' })?.id).toBe(one.id);
    expect(list.match({ address: '192.0.2.56' })).toBeNull();
    expect(list.match({ address: 'garbage' })).toBeNull();
  });
});

describe('keyed bans and expiry', () => {
  it('matches client id, username, certificate serial (any hex form) and SHA-256 fingerprint', async () => {
    const c = await list.add(ban('client-id', 'sensor-7'));
    const u = await list.add(ban('username', 'meter-1'));
    const s = await list.add(ban('certificate', '0A:BC:DE'));
    const fp = 'AB'.repeat(32);
    const f = await list.add(ban('certificate', fp));
    expect(s.value).toBe('abcde');
    expect(f.value).toBe('ab'.repeat(32));
    expect(list.match({ clientId: 'sensor-7' })?.id).toBe(c.id);
    expect(list.match({ clientId: 'sensor-8', username: 'meter-1' })?.id).toBe(u.id);
    // A client id ban does not ban the same text as a username.
    expect(list.match({ username: 'sensor-7' })).toBeNull();
    expect(list.match({ certSerial: '0abcde' })?.id).toBe(s.id);
    expect(list.match({ certFingerprint: fp.match(/../g)!.join(':') })?.id).toBe(f.id);
    expect(list.match({ certSerial: 'abcdef' })).toBeNull();
  });

  it('stops matching when a ban expires, and prunes expired rows from the store', async () => {
    const b = await list.add(ban('client-id', 'x', now + 60_000));
    await list.add(ban('client-id', 'forever'));
    expect(list.match({ clientId: 'x' })?.id).toBe(b.id);
    now += 59_999;
    expect(list.match({ clientId: 'x' })).not.toBeNull();
    now += 1;
    expect(list.match({ clientId: 'x' })).toBeNull();
    expect(list.list().map((r) => r.value)).toEqual(['forever']);
    now += 120_000;
    await list.reload();
    expect((await store.bans.list()).map((r) => r.value)).toEqual(['forever']);
  });

  it('removes a ban and tells listeners of new ones', async () => {
    const seen: number[] = [];
    list.onBan((b) => seen.push(b.id));
    const b = await list.add(ban('username', 'u1'));
    expect(seen).toEqual([b.id]);
    expect(await list.remove(b.id)).toBe(true);
    expect(await list.remove(b.id)).toBe(false);
    expect(list.match({ username: 'u1' })).toBeNull();
  });
});

describe('another writer on the same database', () => {
  it('sees bans added and removed by another connection within the poll interval', async () => {
    const other = await openSqliteStore(join(dir, 'palisade.db'));
    try {
      const seen: number[] = [];
      list.onBan((b) => seen.push(b.id));
      const added = await other.bans.add({ ...normaliseBan(ban('address', '2001:db8::/32')), createdAt: now });
      await expect.poll(() => list.match({ address: '2001:db8::9' })?.id, { timeout: 1000, interval: 10 }).toBe(added.id);
      expect(seen).toEqual([added.id]);
      await other.bans.remove(added.id);
      await expect.poll(() => list.match({ address: '2001:db8::9' }), { timeout: 1000, interval: 10 }).toBeNull();
    } finally {
      await other.close();
    }
  });
});
