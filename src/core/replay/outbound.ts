/**
 * The gateway's outbound counter per device, stamped on every command (issue 5, point 5): one
 * more than the last for that device, persisted every K (persistence.ts) so a restarted
 * gateway never issues a counter twice. Devices check it with the device kit's CommandVerifier.
 */
import { CounterPersistence } from './persistence.ts';
import type { ReplayStateRepo } from './types.ts';

export interface CommandCounter {
  /** The counter for the next command to `deviceId`. */
  next(deviceId: string): number;
}

export class OutboundCounters implements CommandCounter {
  readonly #persistence: CounterPersistence;
  readonly #highest: Map<string, number>;

  private constructor(persistence: CounterPersistence, highest: Map<string, number>) {
    this.#persistence = persistence;
    this.#highest = highest;
  }

  static async open(deps: { repo: ReplayStateRepo; persistEvery: number; onError: (err: unknown) => void; now?: () => number }): Promise<OutboundCounters> {
    const persistence = new CounterPersistence({ ...deps, stream: 'cmd' });
    return new OutboundCounters(persistence, await persistence.load());
  }

  next(deviceId: string): number {
    const n = (this.#highest.get(deviceId) ?? 0) + 1;
    this.#highest.set(deviceId, n);
    // Written (when due) before the command leaves, so a crash cannot make the counter come round again.
    this.#persistence.note(deviceId, n);
    return n;
  }

  /** Clean stop. */
  flush(): Promise<void> {
    return this.#persistence.flush();
  }
}
