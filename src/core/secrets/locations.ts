/**
 * Where sealed records live, so `palisade keys rotate` can re-wrap all of them. Each feature
 * that stores a secret (CA keys in files; device PSKs, TOTP seeds and enrollment tokens in
 * the store) contributes one SealedRecordLocation; rotation walks them all and retires a
 * master key only when no record anywhere still references it.
 */
import type { MasterKey } from './keyring.ts';
import type { SecretBox } from './secret-box.ts';
import { sealedKeyId } from './sealed-format.ts';

export interface SealedRecordEntry {
  /** Names the record in operator messages: `pki/issuing-ca-key.sealed`, `device cam-3 psk`. */
  readonly label: string;
  /** The context it was sealed with. */
  readonly context: string;
  readonly sealed: string;
  /**
   * Stores `next` in place of this record, atomically (rename over a file; for a row, an
   * UPDATE guarded by the old value so a concurrent change is not overwritten).
   */
  replace(next: string): Promise<void>;
}

export interface SealedRecordLocation {
  readonly name: string;
  /** Read fresh on every call; a store location may stream rows. */
  records(): AsyncIterable<SealedRecordEntry> | Iterable<SealedRecordEntry>;
}

export interface RewrapReport {
  location: string;
  rewrapped: number;
  alreadyCurrent: number;
  failed: { label: string; error: string }[];
}

/** Re-wraps every record of one location under `target` that is not wrapped under it yet. */
export async function rewrapLocation(box: SecretBox, location: SealedRecordLocation, target: MasterKey): Promise<RewrapReport> {
  const report: RewrapReport = { location: location.name, rewrapped: 0, alreadyCurrent: 0, failed: [] };
  for await (const entry of location.records()) {
    try {
      if (sealedKeyId(entry.sealed) === target.id) {
        report.alreadyCurrent++;
        continue;
      }
      await entry.replace(box.rewrap(entry.sealed, entry.context, target));
      report.rewrapped++;
    } catch (err) {
      report.failed.push({ label: entry.label, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return report;
}

/** How many records reference each master key id ('?' for records that do not parse). */
export async function countKeyReferences(locations: readonly SealedRecordLocation[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const location of locations) {
    for await (const entry of location.records()) {
      let kid = '?';
      try {
        kid = sealedKeyId(entry.sealed);
      } catch {
        // counted under '?': a malformed record references no key we could retire safely
      }
      counts.set(kid, (counts.get(kid) ?? 0) + 1);
    }
  }
  return counts;
}
