/**
 * Per-device DNS telemetry (issue 6, point 4): for each query, whether the device has asked for
 * this registrable name before ("names never seen before") and the name's DGA score. The
 * NXDOMAIN rate is counted per anomaly window by the detector (shield/anomaly/window.ts).
 *
 * "Seen" is per registrable name (registrable.ts: last two labels, three under `co.uk`-style
 * suffixes), so `a.cdn.example` after `b.cdn.example` is not new. Memory is bounded: each device
 * remembers at most `maxNamesPerDevice` names (least recently asked forgotten first) and at most
 * `maxDevices` devices are tracked (least recently active forgotten first). A forgotten name is
 * new again when next asked, which only errs towards reporting a name as new. The DGA score is
 * computed once per remembered name and kept with it, so repeated lookups cost a map hit.
 */
import type { BigramModel } from './bigrams.ts';
import { dgaScore } from './dga.ts';
import { registrableName } from './registrable.ts';

export interface DnsTelemetryOptions {
  model: BigramModel;
  /** Default 256: an IoT device asks for a handful of names. */
  maxNamesPerDevice?: number;
  /** Default 10 000 devices (at most maxDevices x maxNamesPerDevice names in memory). */
  maxDevices?: number;
}

export interface DnsNameObservation {
  registrable: string;
  /** The device had not asked for this registrable name (within what is remembered). */
  newName: boolean;
  dgaScore: number;
}

export class DnsDeviceTelemetry {
  readonly #model: BigramModel;
  readonly #maxNames: number;
  readonly #maxDevices: number;
  /** Map order is recency order: a hit is deleted and re-inserted at the end. */
  readonly #devices = new Map<string, Map<string, number>>();

  constructor(opts: DnsTelemetryOptions) {
    this.#model = opts.model;
    this.#maxNames = Math.max(1, opts.maxNamesPerDevice ?? 256);
    this.#maxDevices = Math.max(1, opts.maxDevices ?? 10_000);
  }

  get trackedDevices(): number {
    return this.#devices.size;
  }

  /** Names remembered for the device. */
  namesOf(deviceId: string): number {
    return this.#devices.get(deviceId)?.size ?? 0;
  }

  observe(deviceId: string, name: string): DnsNameObservation {
    const registrable = registrableName(name);
    let names = this.#devices.get(deviceId);
    if (names === undefined) {
      if (this.#devices.size >= this.#maxDevices) this.#devices.delete(this.#devices.keys().next().value!);
      names = new Map();
    } else {
      this.#devices.delete(deviceId);
    }
    this.#devices.set(deviceId, names);
    const known = names.get(registrable);
    if (known !== undefined) {
      names.delete(registrable);
      names.set(registrable, known);
      return { registrable, newName: false, dgaScore: known };
    }
    const score = dgaScore(registrable, this.#model);
    if (names.size >= this.#maxNames) names.delete(names.keys().next().value!);
    names.set(registrable, score);
    return { registrable, newName: true, dgaScore: score };
  }

  forget(deviceId: string): void {
    this.#devices.delete(deviceId);
  }
}
