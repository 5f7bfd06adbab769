/**
 * The sealed records of enrollment, for `palisade keys rotate` (issue 3, point 8): the lookup
 * key and every stored token (used and expired ones too, until deleted). Each replacement is an
 * UPDATE guarded by the old sealed value, so a concurrent change is never overwritten.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { SealedRecordEntry, SealedRecordLocation } from '../secrets/index.ts';
import type { EnrollmentRepo } from './repo.ts';
import { LOOKUP_KEY_CONTEXT, tokenContext } from './tokens.ts';

function changed(label: string): PalisadeError {
  return new PalisadeError(ErrorCodes.STORE_FAILURE, `${label} changed during re-wrap; run keys rotate again`);
}

export function enrollmentSealedRecords(repo: EnrollmentRepo): SealedRecordLocation {
  return {
    name: 'enrollment',
    async *records(): AsyncGenerator<SealedRecordEntry> {
      const key = await repo.getLookupKey();
      if (key !== null) {
        yield {
          label: 'enrollment lookup key',
          context: LOOKUP_KEY_CONTEXT,
          sealed: key,
          replace: async (next) => {
            if (!(await repo.resealLookupKey(key, next))) throw changed('enrollment lookup key');
          },
        };
      }
      for (const t of await repo.listTokens()) {
        const label = `enrollment token ${t.id} (${t.deviceId})`;
        yield {
          label,
          context: tokenContext(t.id),
          sealed: t.sealed,
          replace: async (next) => {
            if (!(await repo.resealToken(t.id, t.sealed, next))) throw changed(label);
          },
        };
      }
    },
  };
}
