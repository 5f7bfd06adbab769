/** Readings of another process from /proc (Linux only). */
import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

const CLOCK_TICKS = 100; // USER_HZ; 100 on every mainstream Linux build

/** User + system CPU seconds consumed by `pid` (all threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
}

/** CPU seconds used by this process (all threads, so the generator's workers too). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Machine-wide CPU seconds so far: [busy, idle] over all cores (from /proc/stat). */
export function machineCpuSeconds(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return [(all - idle) / CLOCK_TICKS, idle / CLOCK_TICKS];
}

/**
 * CPU use over an interval, in cores: the broker, this process (the generator), everything else
 * on the machine, and what was left idle. `other` > 0.2 means the run shared the CPU.
 */
export class CpuWindow {
  private readonly t0 = performance.now();
  private readonly broker0: number;
  private readonly self0 = selfCpuSeconds();
  private readonly machine0 = machineCpuSeconds();
  private readonly pid: number;

  constructor(brokerPid: number) {
    this.pid = brokerPid;
    this.broker0 = cpuSeconds(brokerPid);
  }

  read(): { brokerCpuCores: number; generatorCpuCores: number; otherCpuCores: number; idleCores: number } {
    const secs = (performance.now() - this.t0) / 1000;
    const broker = (cpuSeconds(this.pid) - this.broker0) / secs;
    const gen = (selfCpuSeconds() - this.self0) / secs;
    const [busy1, idle1] = machineCpuSeconds();
    const busy = (busy1 - this.machine0[0]) / secs;
    const r = (x: number): number => Math.round(x * 100) / 100;
    return { brokerCpuCores: r(broker), generatorCpuCores: r(gen), otherCpuCores: r(Math.max(0, busy - broker - gen)), idleCores: r((idle1 - this.machine0[1]) / secs) };
  }
}
