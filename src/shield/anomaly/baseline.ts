/**
 * Thresholds a data point is compared with: static, or learned per device from the device's
 * own past data points. The detector feeds a baseline only with data points that did not
 * breach while the behaviour was not in alarm, so a flooding device cannot teach its baseline
 * that flooding is normal (poisoning); what it can still do is creep up slowly below the
 * threshold, which `deviations`/`factor` bound per window.
 */
import type { EwmaThreshold, PercentileThreshold, StaticThreshold, Threshold } from './types.ts';

export interface Baseline {
  /** The current limit; null while fewer than minSamples points are learned (never breaches). */
  limit(): number | null;
  breaches(value: number): boolean;
  learn(value: number): void;
}

export class StaticBaseline implements Baseline {
  readonly #t: StaticThreshold;

  constructor(t: StaticThreshold) {
    this.#t = t;
  }

  limit(): number {
    return this.#t.value;
  }

  breaches(v: number): boolean {
    const x = this.#t.value;
    switch (this.#t.op) {
      case '>':
        return v > x;
      case '>=':
        return v >= x;
      case '<':
        return v < x;
      case '<=':
        return v <= x;
    }
  }

  learn(): void {
    // Nothing to learn.
  }
}

/**
 * Exponentially weighted mean and mean absolute deviation (the smoothed deviation of TCP's
 * RTT estimator, RFC 6298 §2): two numbers per device, no history kept.
 */
export class EwmaBaseline implements Baseline {
  readonly #t: EwmaThreshold;
  #mean = 0;
  #dev = 0;
  #n = 0;

  constructor(t: EwmaThreshold) {
    this.#t = t;
  }

  get samples(): number {
    return this.#n;
  }

  get mean(): number {
    return this.#mean;
  }

  get deviation(): number {
    return this.#dev;
  }

  limit(): number | null {
    if (this.#n < this.#t.minSamples) return null;
    return Math.max(this.#t.floor, this.#mean + this.#t.deviations * Math.max(this.#dev, this.#t.minDeviation));
  }

  breaches(v: number): boolean {
    if (v <= this.#t.floor) return false;
    const l = this.limit();
    return l !== null && v > l;
  }

  learn(v: number): void {
    if (this.#n === 0) {
      this.#mean = v;
      this.#dev = 0;
    } else {
      const a = this.#t.alpha;
      // RFC 6298 order: the deviation against the old mean, then the mean.
      this.#dev = (1 - a) * this.#dev + a * Math.abs(v - this.#mean);
      this.#mean = (1 - a) * this.#mean + a * v;
    }
    this.#n++;
  }
}

/** Size of the per-device reservoir: recent data points, oldest overwritten first. */
export const PERCENTILE_RESERVOIR = 64;

export class PercentileBaseline implements Baseline {
  readonly #t: PercentileThreshold;
  /** A plain array grown to the reservoir size: a typed array per device costs an ArrayBuffer each. */
  readonly #ring: number[] = [];
  #n = 0;
  #cached: number | null = null;

  constructor(t: PercentileThreshold) {
    this.#t = t;
  }

  get samples(): number {
    return this.#n;
  }

  limit(): number | null {
    if (this.#n < this.#t.minSamples) return null;
    this.#cached ??= percentile(this.#ring, this.#t.p);
    return Math.max(this.#t.floor, this.#cached * this.#t.factor);
  }

  breaches(v: number): boolean {
    // At or below the floor it cannot breach: no sort for the many ordinary windows.
    if (v <= this.#t.floor) return false;
    const l = this.limit();
    return l !== null && v > l;
  }

  learn(v: number): void {
    if (this.#ring.length < PERCENTILE_RESERVOIR) this.#ring.push(v);
    else this.#ring[this.#n % PERCENTILE_RESERVOIR] = v;
    this.#n++;
    this.#cached = null;
  }
}

/** Nearest-rank percentile (p in (0, 100]) of the values. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function baselineFor(t: Threshold): Baseline {
  if ('op' in t) return new StaticBaseline(t);
  return t.baseline === 'ewma' ? new EwmaBaseline(t) : new PercentileBaseline(t);
}
