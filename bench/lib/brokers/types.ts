/** What every broker launcher takes and gives back. */
import type { TlsSet } from '../tls-material.ts';
import type { BrokerName } from '../scenario.ts';

export interface LaunchContext {
  /** Scratch directory for this run (configs, data). */
  workDir: string;
  repoRoot: string;
  /** Certificates for the TLS listener; null when TLS material could not be prepared. */
  tls: TlsSet | null;
  /** Extra `node` flags for the Node.js brokers (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /**
   * Ask Mosquitto and Aedes for TCP_NODELAY (latency and TLS scenarios). Otherwise they keep
   * their default (Nagle on), which is their faster setting for throughput. Palisade always sets it.
   */
  noDelay?: boolean;
}

export interface RunningBroker {
  name: BrokerName;
  pid: number;
  mqtt: { host: string; port: number };
  mqtts: { host: string; port: number } | null;
  /** Client certificate set that this broker's TLS listener accepts. */
  tls: TlsSet | null;
  stop(): Promise<void>;
}

export interface BrokerLauncher {
  name: BrokerName;
  start(ctx: LaunchContext): Promise<RunningBroker>;
}
