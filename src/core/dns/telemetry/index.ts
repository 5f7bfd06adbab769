/** DNS telemetry (issue 6, point 4): pure scoring and per-device statistics. */
export { BigramModel, buildBigramCounts, formatBigramTable } from './bigrams.ts';
export { DGA_THRESHOLD, dgaFeatures, dgaScore, scoreFeatures, type DgaFeatures } from './dga.ts';
export { DnsDeviceTelemetry, type DnsNameObservation, type DnsTelemetryOptions } from './device-stats.ts';
export { fanOut } from './observers.ts';
export { registrableName, significantLabel } from './registrable.ts';
