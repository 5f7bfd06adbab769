import { describe, expect, it } from 'vitest';
import { Keyring, generateMasterKey } from './keyring.ts';
import { countKeyReferences, rewrapLocation, type SealedRecordEntry, type SealedRecordLocation } from './locations.ts';
import { SecretBox } from './secret-box.ts';
import { sealedKeyId } from './sealed-format.ts';

function memoryLocation(rows: Map<string, string>, contextOf = (id: string) => `device:${id}:psk`): SealedRecordLocation {
  return {
    name: 'memory',
    records: () =>
      [...rows.entries()].map(([id, sealed]): SealedRecordEntry => ({
        label: id,
        context: contextOf(id),
        sealed,
        replace: (next) => {
          rows.set(id, next);
          return Promise.resolve();
        },
      })),
  };
}

describe('sealed record locations', () => {
  it('re-wraps records not yet under the target key, counts the rest, and keeps every plaintext', async () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const oldBox = new SecretBox(Keyring.single(oldKey));
    const rows = new Map([['d1', oldBox.seal('one', 'device:d1:psk')], ['d2', oldBox.seal('two', 'device:d2:psk')]]);
    const ring = Keyring.single(oldKey).withCurrent(newKey);
    const box = new SecretBox(ring);
    rows.set('d3', box.seal('three', 'device:d3:psk'));
    const loc = memoryLocation(rows);
    expect(await countKeyReferences([loc])).toEqual(new Map([[oldKey.id, 2], [newKey.id, 1]]));
    const report = await rewrapLocation(box, loc, newKey);
    expect(report).toMatchObject({ rewrapped: 2, alreadyCurrent: 1, failed: [] });
    expect(await countKeyReferences([loc])).toEqual(new Map([[newKey.id, 3]]));
    const after = new SecretBox(Keyring.single(newKey));
    expect(['d1', 'd2', 'd3'].map((id) => after.open(rows.get(id)!, `device:${id}:psk`).toString())).toEqual(['one', 'two', 'three']);
  });

  it('reports a record that does not unwrap and leaves it as it was', async () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const ring = Keyring.single(oldKey).withCurrent(newKey);
    const rows = new Map([['d1', new SecretBox(ring.without(oldKey.id)).seal('x', 'device:d1:psk')]]);
    const stray = new SecretBox(Keyring.single(generateMasterKey())).seal('y', 'device:d2:psk');
    rows.set('d2', stray);
    const report = await rewrapLocation(new SecretBox(ring), memoryLocation(rows), newKey);
    expect(report.failed.map((f) => f.label)).toEqual(['d2']);
    expect(rows.get('d2')).toBe(stray);
    expect(sealedKeyId(rows.get('d1')!)).toBe(newKey.id);
  });
});
