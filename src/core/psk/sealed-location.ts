/** Device PSKs as a sealed-record location, so `palisade keys rotate` re-wraps them (issue 3, point 8). */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { SealedRecordEntry, SealedRecordLocation } from '../secrets/index.ts';
import { pskContext } from './device-psk.ts';
import type { DevicePskRepo } from './repo.ts';

export function devicePskSealedRecords(repo: DevicePskRepo): SealedRecordLocation {
  return {
    name: 'device-psks',
    async *records(): AsyncGenerator<SealedRecordEntry> {
      for (const r of await repo.list()) {
        const label = `device ${r.deviceId} psk`;
        yield {
          label,
          context: pskContext(r.deviceId),
          sealed: r.sealed,
          replace: async (next) => {
            if (!(await repo.reseal(r.deviceId, r.sealed, next))) throw new PalisadeError(ErrorCodes.STORE_FAILURE, `${label} changed during re-wrap; run keys rotate again`);
          },
        };
      }
    },
  };
}
