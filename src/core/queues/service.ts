/**
 * Push-pull queues in core (issue 4, point 4), protocol-neutral: MQTT (`$queue/<name>`), HTTP
 * and CoAP adapters call push / pull / ack / nack. Each call is authorised by `queue:push`,
 * `queue:pull` or `queue:ack` on the queue name; every refusal is a security event.
 *
 * Delivery is at least once: pull leases a message for `visibilityTimeoutMs`; ack deletes it,
 * nack (or the lease running out) makes it visible again. After `maxDeliveries` leases without
 * an ack the message moves to the dead-letter queue `<name>.dlq`. Bounds (messages and bytes per
 * queue) are checked by the store in the push transaction, so several processes share them.
 *
 * Long polls wait in memory for a push or nack on this gateway, or for the next visibility
 * deadline; a short fallback poll picks up pushes made by another process on the same store.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { Actions, type Action } from '../policy/actions.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { MessageProperties } from '../ports.ts';
import type { LeasedMessage, QueueRepo, QueueStats } from './types.ts';

export interface QueueSettings {
  maxMessages: number;
  maxBytes: number;
  maxMessageBytes: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  maxWaitSeconds: number;
}

/** Who is calling: a device with its compiled policy, or an operator/the gateway (policy null, already authorised). */
export interface QueueCaller {
  principal: string | null;
  source: string | null;
  policy: CompiledPolicy | null;
}

export const DEAD_LETTER_SUFFIX = '.dlq';
/** Letters, digits, `.`, `_`, `-`; no `/` so a name is one path segment and one topic level. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Another process may push into the same store; a waiting poll looks again this often. */
const FALLBACK_POLL_MS = 1000;

export function isQueueName(name: string): boolean {
  return NAME.test(name);
}

export class QueueService {
  readonly #repo: QueueRepo;
  readonly #events: Pick<EventLog, 'record'>;
  readonly #settings: QueueSettings;
  readonly #now: () => number;
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(deps: { repo: QueueRepo; events: Pick<EventLog, 'record'>; settings: QueueSettings; now?: () => number }) {
    this.#repo = deps.repo;
    this.#events = deps.events;
    this.#settings = deps.settings;
    this.#now = deps.now ?? Date.now;
  }

  /** The longest wait a client may ask of a pull (queues.maxWaitSeconds). */
  maxWaitMs(requestedSeconds: number): number {
    return Math.min(Math.max(0, requestedSeconds), this.#settings.maxWaitSeconds) * 1000;
  }

  get settings(): Readonly<QueueSettings> {
    return this.#settings;
  }

  /** Stores the message and resolves once it is committed; QUEUE_FULL when over a bound. */
  async push(caller: QueueCaller, name: string, payload: Buffer, properties: MessageProperties = {}): Promise<number> {
    this.#authorize(caller, Actions.queuePush, name);
    if (payload.length > this.#settings.maxMessageBytes) {
      this.#record('queue.message_too_large', caller, { queue: name, bytes: payload.length });
      throw new PalisadeError(ErrorCodes.PACKET_TOO_LARGE, 'message larger than queues.maxMessageBytes', { detail: { queue: name, bytes: payload.length } });
    }
    const id = await this.#repo.push(name, { payload, properties, enqueuedAt: this.#now() }, this.#bounds());
    if (id === null) {
      this.#record('queue.full', caller, { queue: name });
      throw new PalisadeError(ErrorCodes.QUEUE_FULL, `queue ${name} is full`, { detail: { queue: name, retryAfterMs: 1000 } });
    }
    this.#notify(name);
    return id;
  }

  /**
   * Leases the next visible message, waiting up to `waitMs` for one (long poll). Null when none
   * came in time or `signal` aborted. Edges cap what a client may ask for with `maxWaitMs()`.
   */
  async pull(caller: QueueCaller, name: string, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<LeasedMessage | null> {
    const deadline = this.#now() + (opts.waitMs ?? 0);
    for (;;) {
      // Decided again each round (a cached decision): a grant withdrawn during a long wait bites before the next lease.
      this.#authorize(caller, Actions.queuePull, name);
      const now = this.#now();
      const { message, deadLettered } = await this.#repo.lease(name, {
        now,
        visibleAt: now + this.#settings.visibilityTimeoutMs,
        receipt: randomUUID(),
        maxDeliveries: this.#settings.maxDeliveries,
        deadLetter: name + DEAD_LETTER_SUFFIX,
        bounds: this.#bounds(),
      });
      if (deadLettered.length > 0) {
        this.#events.record('queue.dead_lettered', 'warning', { principal: caller.principal, source: caller.source, detail: { queue: name, ids: deadLettered, maxDeliveries: this.#settings.maxDeliveries } });
        this.#notify(name + DEAD_LETTER_SUFFIX);
      }
      if (message) return message;
      const left = deadline - this.#now();
      if (left <= 0 || opts.signal?.aborted) return null;
      const next = await this.#repo.nextVisibleAt(name, this.#now());
      const untilVisible = next === null ? Infinity : Math.max(1, next - this.#now());
      await this.#wait(name, Math.min(left, untilVisible, FALLBACK_POLL_MS), opts.signal);
    }
  }

  /** NOT_FOUND when the lease is gone (acked already, or expired and handed to someone else). */
  async ack(caller: QueueCaller, name: string, receipt: string): Promise<void> {
    this.#authorize(caller, Actions.queueAck, name);
    if (!(await this.#repo.ack(name, receipt))) throw leaseGone(name);
  }

  /** Makes the message visible again now, or after `delayMs`. */
  async nack(caller: QueueCaller, name: string, receipt: string, delayMs = 0): Promise<void> {
    this.#authorize(caller, Actions.queueAck, name);
    await this.release(name, receipt, delayMs);
  }

  /** A nack without authorisation, for a consumer that went away (its lease was authorised). */
  async release(name: string, receipt: string, delayMs = 0): Promise<void> {
    const delay = Math.max(0, Math.min(delayMs, this.#settings.visibilityTimeoutMs * 100));
    if ((await this.#repo.nack(name, receipt, this.#now() + delay)) === null) throw leaseGone(name);
    if (delay === 0) this.#notify(name);
  }

  stats(name: string): Promise<QueueStats> {
    return this.#repo.stats(name, this.#now());
  }

  /** Wakes every waiting poll (shutdown); they return null once their time is up or aborted. */
  close(): void {
    for (const set of this.#waiters.values()) for (const wake of set) wake();
    this.#waiters.clear();
  }

  #bounds(): { maxMessages: number; maxBytes: number } {
    return { maxMessages: this.#settings.maxMessages, maxBytes: this.#settings.maxBytes };
  }

  #authorize(caller: QueueCaller, action: Action, name: string): void {
    if (!isQueueName(name)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'invalid queue name', { detail: { queue: name.slice(0, 160) } });
    if (caller.policy === null) return;
    const d = caller.policy.authorize(action, name, { source: caller.source });
    if (d.allowed) return;
    this.#record(`queue.${action.slice('queue:'.length)}_denied`, caller, { queue: name, rule: d.rule });
    throw new PalisadeError(ErrorCodes.POLICY_DENIED, `${action} denied on ${name}`, { detail: { queue: name, rule: d.rule } });
  }

  #record(type: string, caller: QueueCaller, detail: Record<string, unknown>): void {
    this.#events.record(type, 'warning', { principal: caller.principal, source: caller.source, detail });
  }

  #notify(name: string): void {
    const set = this.#waiters.get(name);
    if (!set) return;
    this.#waiters.delete(name);
    for (const wake of set) wake();
  }

  #wait(name: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(name);
      if (!set) this.#waiters.set(name, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

function leaseGone(name: string): PalisadeError {
  return new PalisadeError(ErrorCodes.NOT_FOUND, 'no such lease (acked already, or expired and redelivered)', { detail: { queue: name } });
}
