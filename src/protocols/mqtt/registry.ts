/**
 * Live MQTT connections and the one sweeper that enforces their timers. One interval over all
 * connections is cheaper than a timer per connection at 10,000 idle devices.
 */
import type { MqttConnection } from './connection.ts';

export class ConnectionRegistry {
  readonly #connections = new Set<MqttConnection>();
  readonly #timer: NodeJS.Timeout;

  constructor(sweepIntervalMs = 250) {
    this.#timer = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.#connections.size;
  }

  connections(): IterableIterator<MqttConnection> {
    return this.#connections.values();
  }

  add(conn: MqttConnection): void {
    this.#connections.add(conn);
  }

  remove(conn: MqttConnection): void {
    this.#connections.delete(conn);
  }

  /** Closes every connection, v5 clients with "server shutting down". */
  closeAll(reasonCode: number): void {
    for (const c of this.#connections) c.fail(reasonCode, 'server shutting down', 'info');
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.#connections) c.tick(now);
  }
}
