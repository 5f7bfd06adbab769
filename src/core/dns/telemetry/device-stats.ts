/**
 * Per-device DNS telemetry (issue 6, point 4): for each query, whether the device has asked for
 * this registrable name before ("names never seen before") and the name's DGA score. The
 * NXDOMAIN rate is counted per anomaly window by the detector (shield/anomaly/window.ts).
 *
 * "Seen" is per registrable name (registrable.ts: last two labels, three under `co.uk`-style
 * suffixes), so `a.cdn.example` after `b.cdn.example` is not new. Memory is bounded: each device
 * remembers at most `maxNamesPerDevice` names and at most `maxDevices` devices are tracked.
 * Eviction is CLOCK (second chance), an approximation of least-recently-used that costs a flag
 * write per hit instead of reordering a Map on every query: this runs once per DNS query. A
 * forgotten name is new again when next asked, which only errs towards reporting a name as
 * new. The DGA score is computed once per remembered name and kept with it.
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

interface Slot<T> {
  value: T;
  /** Used since the clock hand last passed. */
  ref: boolean;
}

/** A Map bounded by CLOCK eviction: Map order is the clock; a referenced entry goes round again. */
class ClockMap<K, V> {
  readonly #map = new Map<K, Slot<V>>();
  readonly #cap: number;

  constructor(cap: number) {
    this.#cap = cap;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const s = this.#map.get(key);
    if (s === undefined) return undefined;
    s.ref = true;
    return s.value;
  }

  /** Inserts a key not present, evicting one entry when full. */
  add(key: K, value: V): void {
    if (this.#map.size >= this.#cap) this.#evict();
    this.#map.set(key, { value, ref: false });
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  #evict(): void {
    // Every referenced entry met gets its second chance; at most one full turn, then the oldest goes.
    for (let turns = this.#map.size; turns > 0; turns--) {
      const first = this.#map.entries().next().value!;
      this.#map.delete(first[0]);
      if (!first[1].ref) return;
      first[1].ref = false;
      this.#map.set(first[0], first[1]);
    }
    this.#map.delete(this.#map.keys().next().value!);
  }
}

export class DnsDeviceTelemetry {
  readonly #model: BigramModel;
  readonly #maxNames: number;
  readonly #devices: ClockMap<string, ClockMap<string, number>>;

  constructor(opts: DnsTelemetryOptions) {
    this.#model = opts.model;
    this.#maxNames = Math.max(1, opts.maxNamesPerDevice ?? 256);
    this.#devices = new ClockMap(Math.max(1, opts.maxDevices ?? 10_000));
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
      names = new ClockMap(this.#maxNames);
      this.#devices.add(deviceId, names);
    }
    const known = names.get(registrable);
    if (known !== undefined) return { registrable, newName: false, dgaScore: known };
    const score = dgaScore(registrable, this.#model);
    names.add(registrable, score);
    return { registrable, newName: true, dgaScore: score };
  }

  forget(deviceId: string): void {
    this.#devices.delete(deviceId);
  }
}
