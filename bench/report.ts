/**
 * Renders bench/BENCHMARKS.md from a results file, keeping the hand-written notes block.
 * Usage: node bench/report.ts [results.json]   (default bench/results/latest.json)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMarkdown } from './lib/render.ts';
import type { RunResults } from './lib/results.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const REPORT_FILE = `${BENCH_DIR}BENCHMARKS.md`;

export function existingNotes(): string {
  if (!existsSync(REPORT_FILE)) return '_No analysis written yet._';
  const m = /<!-- notes:start -->\n([\s\S]*?)\n?<!-- notes:end -->/.exec(readFileSync(REPORT_FILE, 'utf8'));
  return m?.[1] ?? '_No analysis written yet._';
}

export function writeReport(results: RunResults): void {
  writeFileSync(REPORT_FILE, renderMarkdown(results, existingNotes()));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? `${BENCH_DIR}results/latest.json`;
  writeReport(JSON.parse(readFileSync(file, 'utf8')) as RunResults);
  console.log(`wrote ${REPORT_FILE} from ${file}`);
}
