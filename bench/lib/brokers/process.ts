/**
 * Child-process plumbing for broker launchers: spawn with a captured stderr tail, wait for a TCP
 * port, stop with SIGTERM then SIGKILL. Every child is tracked so the runner can stop them all
 * (by pid) if it is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { sleep } from '../clock.ts';

export interface BrokerProcess {
  pid: number;
  /** Last few KiB of stdout + stderr, for error messages. */
  output(): string;
  exited(): boolean;
  /** Resolves when `text` has appeared in the output. */
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every broker still running (used on exit and on SIGINT). */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export function spawnBroker(cmd: string, args: string[], opts: { cwd?: string } = {}): BrokerProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  const append = (d: Buffer): void => { tail = (tail + d.toString()).slice(-4096); };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let exitedFlag = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exitedFlag = true; live.delete(child); resolve(); }));
  child.once('error', (e) => { tail += `\nspawn error: ${e.message}`; });
  if (child.pid === undefined) throw new Error(`could not spawn ${cmd}`);
  return {
    pid: child.pid,
    output: () => tail.trim(),
    exited: () => exitedFlag,
    async waitForOutput(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!tail.includes(text)) {
        if (exitedFlag) throw new Error(`exited before ready: ${tail.trim().slice(-800)}`);
        if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${tail.trim().slice(-800)}`);
        await sleep(25);
      }
    },
    async stop() {
      if (exitedFlag) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** Resolves once `host:port` accepts a TCP connection. */
export async function waitForPort(host: string, port: number, timeoutMs: number, proc?: BrokerProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (proc?.exited() === true) throw new Error(`exited before listening: ${proc.output().slice(-800)}`);
    if (Date.now() > deadline) throw new Error(`${host}:${port} not listening after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
