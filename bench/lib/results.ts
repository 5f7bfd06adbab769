/** Shape of bench/results/*.json, shared by the runner and the report. */
import type { BrokerName, Metric } from './scenario.ts';
import type { CalibrationRow } from '../scenarios/generator.ts';

export type BrokerOutcome =
  | { ok: true; metrics: Record<string, number>; details: Record<string, number | string | boolean>; trials: Array<Record<string, number>> }
  | { ok: false; error: string };

export interface ScenarioRecord {
  id: string;
  title: string;
  method: string;
  metrics: Metric[];
  brokers: Partial<Record<BrokerName, BrokerOutcome>>;
}

export interface RunResults {
  date: string;
  command: string;
  quick: boolean;
  /** True when only some scenarios or brokers were run. */
  partial: boolean;
  durationSec: number;
  machine: { cpus: number; cpuModel: string; kernel: string; memGiB: number };
  versions: Record<string, string>;
  tls: { source: string; keyType: string; note: string };
  /** Mosquitto's max_queued_messages for this run (BENCH_MOSQUITTO_MAX_QUEUED). */
  mosquittoMaxQueued: number;
  generator: CalibrationRow[] | null;
  scenarios: ScenarioRecord[];
}

export const BROKERS: BrokerName[] = ['palisade', 'mosquitto', 'aedes'];

/** Scenarios with a throughput target: Palisade ≥ 1.0× Mosquitto and ≥ 3× Aedes. */
export const TARGETS: Record<string, { vsMosquitto: number; vsAedes: number }> = {
  'fanin-qos0': { vsMosquitto: 1, vsAedes: 3 },
  'fanin-qos1': { vsMosquitto: 1, vsAedes: 3 },
  'fanout-qos0': { vsMosquitto: 1, vsAedes: 3 },
  'fanout-qos1': { vsMosquitto: 1, vsAedes: 3 },
};
