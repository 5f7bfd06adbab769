/**
 * WAF benchmark (issue 5, point 4): detection rate per attack category at paranoia levels 1..4,
 * false-positive rate per benign set, and JSON inspection throughput, on the labelled corpus in
 * data/waf/ (sources in data/waf/README.md). Prints a Markdown section for bench/BENCHMARKS.md.
 *
 *   node bench/waf-bench.ts            (≈ 30 s; --seconds N sets each throughput run, default 3)
 *
 * Detection counts an attack as detected when the verdict is anomalous (score >= 5, the CRS
 * default threshold: one critical hit), sent as a query parameter; the JSON column sends it as
 * a string value of a device's telemetry message. Throughput is MB (10^6 bytes) of telemetry
 * per second of wall time and per second of this process's CPU time; JSON.parse alone over the
 * same bytes is given as the machine's yardstick, since the machine is shared.
 */
import { cpus } from 'node:os';
import { ATTACK_CATEGORIES, BENIGN_SETS, detection, falsePositives, jsonThroughput } from './waf/corpus.ts';
import type { ParanoiaLevel } from '../src/shield/waf/types.ts';

const PLS: ParanoiaLevel[] = [1, 2, 3, 4];
const secIdx = process.argv.indexOf('--seconds');
const seconds = secIdx === -1 ? 3 : Number(process.argv[secIdx + 1] ?? 3);
const verbose = process.argv.includes('--verbose');
const pct = (r: number): string => `${(r * 100).toFixed(1)} %`;

const lines: string[] = [];
const out = (s: string): void => {
  lines.push(s);
};

out(`**WAF (issue 5, points 3-4).** \`node bench/waf-bench.ts\`, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} cores (shared).`);
out('');
out('| Attacks (detected, score ≥ 5) | items | PL1 | PL2 | PL3 | PL4 | PL1 as JSON value |');
out('|---|--:|--:|--:|--:|--:|--:|');
for (const c of ATTACK_CATEGORIES) {
  const rs = PLS.map((pl) => detection(pl, c, 'query'));
  const json = detection(1, c, 'json');
  out(`| ${c} | ${rs[0]?.total ?? 0} | ${rs.map((r) => pct(r.rate)).join(' | ')} | ${pct(json.rate)} |`);
  if (verbose) for (const e of rs[0]?.examples ?? []) console.error(`  miss ${c}: ${JSON.stringify(e)}`);
}
out('');
out('| Benign (false positives, score ≥ 5) | items | PL1 | PL2 | PL3 | PL4 |');
out('|---|--:|--:|--:|--:|--:|');
for (const s of BENIGN_SETS) {
  const rs = PLS.map((pl) => falsePositives(pl, s));
  out(`| ${s} | ${rs[0]?.total ?? 0} | ${rs.map((r) => `${pct(r.rate)} (${r.flagged})`).join(' | ')} |`);
  if (verbose) for (const e of rs[0]?.examples ?? []) console.error(`  fp ${s}: ${JSON.stringify(e)}`);
}
out('');
out('| JSON telemetry inspection | MB/s (wall) | MB/s per CPU-second | JSON.parse alone, MB/s per CPU-second |');
out('|---|--:|--:|--:|');
for (const [pl, withoutFreeText] of [[1, false], [4, false], [1, true]] as [ParanoiaLevel, boolean][]) {
  const t = jsonThroughput(pl, seconds * 1000, { withoutFreeText });
  const what = withoutFreeText ? ', same messages without their free-text fields' : '';
  out(`| PL${pl}${what}: ${(t.bytes / 1e6).toFixed(0)} MB in ${t.messages.toLocaleString('en')} messages | ${t.mbPerS.toFixed(0)} | ${t.mbPerCpuS.toFixed(0)} | ${t.parseOnlyMbPerCpuS.toFixed(0)} |`);
}
console.log(lines.join('\n'));
