/** What a scenario is, what it is run against, and what it returns. */
import type { Endpoint } from './client.ts';
import type { TlsClientIdentity } from './tls-material.ts';

export type BrokerName = 'palisade' | 'mosquitto' | 'aedes';

/** A running broker as seen by a scenario. */
export interface Target {
  name: BrokerName;
  pid: number;
  mqtt: Endpoint;
  /** TLS listener that requires a client certificate, with the material to pass it. */
  mqtts: TlsTarget | null;
}

export interface TlsTarget {
  host: string;
  port: number;
  caFile: string;
  clients: TlsClientIdentity[];
  /** Where the certificates came from and their key type, for the report. */
  source: string;
  keyType: string;
}

export interface Metric {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
}

export interface ScenarioResult {
  metrics: Record<string, number>;
  details: Record<string, number | string | boolean>;
}

export interface RunOptions {
  quick: boolean;
}

export interface Scenario {
  id: string;
  title: string;
  /** One line on what is measured and how, for the report. */
  method: string;
  metrics: Metric[];
  /** Run Mosquitto and Aedes with TCP_NODELAY (see LaunchContext.noDelay). */
  noDelay?: boolean;
  /** Repetitions per broker; the reported figure is the median. */
  trials(opts: RunOptions): number;
  run(target: Target, opts: RunOptions): Promise<ScenarioResult>;
}
