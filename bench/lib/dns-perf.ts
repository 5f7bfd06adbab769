/**
 * Runs dnsperf (Debian `dnsperf`, DNS-OARC) against one server and reads its statistics block:
 * queries sent / completed / lost, response codes and "Queries per second".
 */
import { spawn } from 'node:child_process';

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  runSeconds: number;
  /** RCODE name → count, as dnsperf prints them ("NOERROR 1000 (100.00%), NXDOMAIN 3 (...)"). */
  rcodes: Record<string, number>;
  avgLatencyMs: number;
  command: string;
}

export interface DnsperfOptions {
  port: number;
  file: string;
  /** -l: run for this many seconds (looping over the file). */
  seconds?: number;
  /** -n: pass over the file at most this many times (the warm-up uses 1). */
  maxRuns?: number;
  /** -q: queries outstanding at most. */
  outstanding?: number;
}

function num(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m === null ? Number.NaN : Number(m[1]);
}

export function parseDnsperf(out: string, command: string): DnsperfResult {
  const rcodes: Record<string, number> = {};
  const line = /Response codes:\s+(.*)/.exec(out)?.[1] ?? '';
  for (const m of line.matchAll(/([A-Z]+)\s+(\d+)\s+\(/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    sent: num(out, /Queries sent:\s+(\d+)/),
    completed: num(out, /Queries completed:\s+(\d+)/),
    lost: num(out, /Queries lost:\s+(\d+)/),
    qps: num(out, /Queries per second:\s+([\d.]+)/),
    runSeconds: num(out, /Run time \(s\):\s+([\d.]+)/),
    rcodes,
    avgLatencyMs: num(out, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    command,
  };
}

export async function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const argv = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.file, '-q', String(o.outstanding ?? 100), '-t', '2'];
  if (o.seconds !== undefined) argv.push('-l', String(o.seconds));
  if (o.maxRuns !== undefined) argv.push('-n', String(o.maxRuns));
  const command = `dnsperf ${argv.join(' ')}`;
  const limitMs = ((o.seconds ?? 60) + 15) * 1000;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('dnsperf', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(text);
      else reject(new Error(`${command} exited ${code}: ${text.slice(-2000)}`));
    });
  });
  const r = parseDnsperf(out, command);
  if (!Number.isFinite(r.qps)) throw new Error(`${command}: no "Queries per second" in its output: ${out.slice(-2000)}`);
  return r;
}
