/**
 * Summarises a V8 .cpuprofile (from `node bench/run.ts --profile`): where a broker's CPU went,
 * by category and by function (self time).
 * Usage: node bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: node bench/profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

function category(n: ProfileNode): string {
  const { functionName, url } = n.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'native (program)';
  if (url.includes('/node_modules/')) return `dep: ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`;
  if (url.startsWith('node:')) return 'node core (JS)';
  if (url === '') return `native: ${functionName || '(anonymous)'}`;
  const m = /\/(src\/[^?]*)$/.exec(url);
  return m !== null ? `palisade: ${m[1]!.split('/').slice(0, 3).join('/')}` : 'other JS';
}

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
const busy = total - idle;
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`;

const cats = new Map<string, number>();
const funcs = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const c = category(n);
  if (c === 'idle') continue;
  cats.set(c, (cats.get(c) ?? 0) + us);
  const short = n.callFrame.url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  const key = `${n.callFrame.functionName || '(anonymous)'}  ${short}${short !== '' ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  funcs.set(key, (funcs.get(key) ?? 0) + us);
}

console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%); shares below are of busy time\n`);
console.log('| Category | Self | Share |\n|---|--:|--:|');
for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${c} | ${(us / 1000).toFixed(0)} ms | ${pct(us)} |`);
console.log('\n| Function (self time) | Self | Share |\n|---|--:|--:|');
for (const [f, us] of [...funcs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| \`${f}\` | ${(us / 1000).toFixed(0)} ms | ${pct(us)} |`);
