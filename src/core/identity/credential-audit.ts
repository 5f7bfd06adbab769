/**
 * `palisade device audit` (issue 3, point 3): where the fleet's device credentials are weak as
 * a whole rather than one by one. It finds devices sharing one password (by keyed fingerprint;
 * the salted hashes cannot show it), devices with no credential at all (no password and no
 * certificate that is unrevoked and unexpired), and passwords set before fingerprints existed,
 * which cannot be compared until they are set again.
 */
import type { Store } from '../ports.ts';

export interface CredentialAudit {
  /** Groups of device ids (sorted) that share one password; groups ordered by their first id. */
  shared: string[][];
  /** Devices with neither a password nor a live certificate. */
  noCredential: string[];
  /** Devices whose password has no fingerprint (set before this check existed). */
  unfingerprinted: string[];
}

export async function auditDeviceCredentials(store: Store, now: number = Date.now()): Promise<CredentialAudit> {
  const devices = await store.devices.list();
  const byFingerprint = new Map<string, string[]>();
  const noCredential: string[] = [];
  const unfingerprinted: string[] = [];
  for (const d of devices) {
    if (d.passwordHash !== null) {
      const fp = d.credentialFingerprint ?? null;
      if (fp === null) unfingerprinted.push(d.id);
      else byFingerprint.set(fp, [...(byFingerprint.get(fp) ?? []), d.id]);
      continue;
    }
    const certs = await store.certificates.listByDevice(d.id);
    if (!certs.some((c) => c.kind === 'device' && c.revokedAt === null && c.notAfter > now)) noCredential.push(d.id);
  }
  const shared = [...byFingerprint.values()].filter((ids) => ids.length > 1).map((ids) => ids.sort());
  shared.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  return { shared, noCredential: noCredential.sort(), unfingerprinted: unfingerprinted.sort() };
}
