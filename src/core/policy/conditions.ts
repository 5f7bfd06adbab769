/**
 * Posture conditions, evaluated when a policy is compiled for a principal. The outcome is
 * three-valued: a condition on posture the principal does not report (no firmware status, a
 * password device with no certificate) is `unknown`. compile.ts then fails closed: an allow
 * applies only when its conditions are `true`, a deny applies unless they are `false`.
 */
import type { Principal } from '../identity/principal.ts';
import type { PolicyConditions } from './document.ts';

export const DAY_MS = 86_400_000;

export type Tristate = 'true' | 'false' | 'unknown';

export interface PostureOutcome {
  result: Tristate;
  /**
   * When the outcome can next change by the clock alone (epoch ms), or Infinity. Only
   * `certDaysLeftAtLeast` depends on time, and it can only turn from true to false.
   */
  changesAt: number;
}

function and(a: Tristate, b: Tristate): Tristate {
  if (a === 'false' || b === 'false') return 'false';
  return a === 'unknown' || b === 'unknown' ? 'unknown' : 'true';
}

export function evaluatePosture(c: PolicyConditions | undefined, p: Principal, now: number): PostureOutcome {
  let result: Tristate = 'true';
  let changesAt = Infinity;
  if (c === undefined) return { result, changesAt };
  if (c.quarantined !== undefined) result = and(result, (p.quarantined ?? false) === c.quarantined ? 'true' : 'false');
  if (c.firmwareCurrent !== undefined) {
    result = and(result, p.firmwareCurrent === undefined ? 'unknown' : p.firmwareCurrent === c.firmwareCurrent ? 'true' : 'false');
  }
  if (c.certDaysLeftAtLeast !== undefined) {
    const notAfter = p.certNotAfter;
    if (notAfter === undefined || notAfter === null) result = and(result, 'unknown');
    else {
      const lastOkInstant = notAfter - c.certDaysLeftAtLeast * DAY_MS;
      if (now <= lastOkInstant) changesAt = Math.floor(lastOkInstant) + 1;
      else result = 'false';
    }
  }
  // A false outcome stays false: the only clock-driven condition can only turn false.
  return { result, changesAt: result === 'false' ? Infinity : changesAt };
}
