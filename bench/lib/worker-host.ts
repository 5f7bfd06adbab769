/**
 * Main-thread side of a load-generator worker: start it, wait for typed messages with a timeout,
 * and always terminate it. Workers speak `{ type: string, ... }` messages.
 */
import { Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';

export interface WorkerMessage {
  type: string;
  [k: string]: unknown;
}

export class WorkerHost {
  private readonly worker: Worker;
  private readonly inbox: WorkerMessage[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(file: URL, workerData: unknown) {
    this.worker = new Worker(file, { workerData });
    this.worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') this.failure = new Error(String(m.message));
      this.inbox.push(m);
      this.wake?.();
    });
    this.worker.on('error', (e: Error) => { this.failure = e; this.wake?.(); });
    this.worker.on('exit', (code: number) => {
      this.failure ??= new Error(`worker exited (${code})`);
      this.wake?.();
    });
  }

  /** Event-loop utilisation of the worker since `since` (or since it started): 1.0 = saturated. */
  elu(since?: EventLoopUtilization): EventLoopUtilization {
    return this.worker.performance.eventLoopUtilization(since);
  }

  send(msg: WorkerMessage): void {
    this.worker.postMessage(msg);
  }

  /** Resolves with the next message of `type`; rejects on worker error or timeout. */
  async waitFor(type: string, timeoutMs: number): Promise<WorkerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (this.failure !== null) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for worker message '${type}'`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
      });
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

