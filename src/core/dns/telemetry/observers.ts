/** Several DnsQueryObservers behind one (the engine takes one): the query log and the anomaly tap. */
import type { DnsQueryObserver, DnsQueryRecord } from '../types.ts';

export function fanOut(...observers: readonly DnsQueryObserver[]): DnsQueryObserver {
  if (observers.length === 1) return observers[0]!;
  return {
    onQuery(record: DnsQueryRecord): void {
      // One observer failing must not stop the others (nor the engine): observers never throw by contract.
      for (const o of observers) {
        try {
          o.onQuery(record);
        } catch {
          // Ignored on purpose; see above.
        }
      }
    },
  };
}
