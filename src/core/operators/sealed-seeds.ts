/** Where operators' sealed TOTP seeds live, so `palisade keys rotate` re-wraps them (issue 3, point 8). */
import type { SealedRecordLocation } from '../secrets/index.ts';
import { totpContext } from './totp.ts';
import type { OperatorRepo } from './types.ts';

export function operatorSeedLocation(repo: OperatorRepo): SealedRecordLocation {
  return {
    name: 'operator TOTP seeds',
    async *records() {
      for (const { username, sealed } of await repo.listSealedSeeds()) {
        yield {
          label: `operator ${username} totp seed`,
          context: totpContext(username),
          sealed,
          // Guarded by the old value: a re-enrolment meanwhile is not overwritten.
          replace: async (next: string) => {
            await repo.replaceSealedSeed(username, sealed, next);
          },
        };
      }
    },
  };
}
