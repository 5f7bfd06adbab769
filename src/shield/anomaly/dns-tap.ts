/**
 * The DNS firewall's feed into the anomaly detector (issue 6, point 4): a DnsQueryObserver
 * that scores each query of a known device with core/dns/telemetry (new registrable name?
 * DGA score) and counts it with `AnomalyDetector.recordDnsQuery`. Queries from clients that
 * map to no device, and unreadable questions, are skipped. Synchronous and allocation-light:
 * it runs on the DNS hot path.
 */
import { readFileSync } from 'node:fs';
import { BigramModel } from '../../core/dns/telemetry/bigrams.ts';
import { DnsDeviceTelemetry, type DnsTelemetryOptions } from '../../core/dns/telemetry/device-stats.ts';
import type { DnsQueryObserver, DnsQueryRecord } from '../../core/dns/types.ts';
import type { AnomalyDetector } from './detector.ts';

/** data/dns/bigrams.tsv: the benign bigram table shipped with Palisade (data/dns/bigrams.README.md). */
export const BUNDLED_BIGRAMS = new URL('../../../data/dns/bigrams.tsv', import.meta.url);

let bundled: BigramModel | null = null;

/** The shipped bigram model, read once per process. */
export function loadBundledBigrams(): BigramModel {
  bundled ??= BigramModel.parse(readFileSync(BUNDLED_BIGRAMS, 'utf8'));
  return bundled;
}

export class DnsAnomalyTap implements DnsQueryObserver {
  readonly #detector: Pick<AnomalyDetector, 'recordDnsQuery'>;
  readonly telemetry: DnsDeviceTelemetry;

  constructor(detector: Pick<AnomalyDetector, 'recordDnsQuery'>, opts: Partial<DnsTelemetryOptions> = {}) {
    this.#detector = detector;
    this.telemetry = new DnsDeviceTelemetry({ ...opts, model: opts.model ?? loadBundledBigrams() });
  }

  onQuery(r: DnsQueryRecord): void {
    if (r.deviceId === null || r.name === '') return;
    const o = this.telemetry.observe(r.deviceId, r.name);
    this.#detector.recordDnsQuery(r.deviceId, { rcode: r.rcode, blocked: r.outcome === 'blocked', newName: o.newName, dgaScore: o.dgaScore, segment: r.segment });
  }
}
