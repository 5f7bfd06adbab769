/**
 * Where a Node broker's memory per idle connection goes: heap snapshot before and after opening
 * N idle connections, diffed by constructor. Snapshots land in bench/results/profiles/.
 * Usage: node bench/heap-profile.ts [palisade|aedes] [connections=10000]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aedes } from './lib/brokers/aedes.ts';
import { palisade } from './lib/brokers/palisade.ts';
import { sleep } from './lib/clock.ts';
import { measureIdleMemory } from './scenarios/memory.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.join(REPO_ROOT, 'bench/results/profiles');
const [brokerArg = 'palisade', countArg = '10000'] = process.argv.slice(2);
const count = Number(countArg);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** self size and count per (type, constructor) */
function summarise(file: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const name = snap.strings[snap.nodes[i + iName]!] ?? '?';
    const key = type === 'object' || type === 'native' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${name}` : `(${type})`;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += snap.nodes[i + iSize]!;
    e.count++;
    out.set(key, e);
  }
  return out;
}

async function snapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const fresh = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (fresh.length > 0) {
      const f = path.join(dir, fresh[0]!);
      let size = -1;
      while (statSync(f).size !== size) { size = statSync(f).size; await sleep(500); }
      return f;
    }
    if (Date.now() > deadline) throw new Error('no heap snapshot after 60 s');
    await sleep(200);
  }
}

mkdirSync(OUT, { recursive: true });
const workDir = mkdtempSync(path.join(os.tmpdir(), 'palisade-heap-'));
const launcher = brokerArg === 'aedes' ? aedes : palisade;
const rb = await launcher.start({ workDir, repoRoot: REPO_ROOT, tls: null, nodeFlags: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${OUT}`] });
try {
  await sleep(1000);
  const base = await snapshot(rb.pid, OUT);
  let loaded = '';
  const r = await measureIdleMemory(rb, count, async () => { loaded = await snapshot(rb.pid, OUT); });
  const a = summarise(base);
  const b = summarise(loaded);
  const rows = [...b].map(([k, v]) => ({ k, bytes: v.bytes - (a.get(k)?.bytes ?? 0), n: v.count - (a.get(k)?.count ?? 0) }))
    .filter((x) => x.bytes > 0).sort((x, y) => y.bytes - x.bytes);
  const heapPerConn = rows.reduce((s, x) => s + x.bytes, 0) / count;
  console.log(`${brokerArg}: ${count} idle connections; RSS +${r.metrics.kibPerConn} KiB/conn; JS heap (self sizes) +${(heapPerConn / 1024).toFixed(2)} KiB/conn\n`);
  console.log('| Constructor | Bytes/conn | Objects/conn |\n|---|--:|--:|');
  for (const x of rows.slice(0, 25)) console.log(`| ${x.k} | ${(x.bytes / count).toFixed(0)} | ${(x.n / count).toFixed(2)} |`);
  console.log(`\nsnapshots: ${base}, ${loaded}`);
} finally {
  await rb.stop();
  rmSync(workDir, { recursive: true, force: true });
}
