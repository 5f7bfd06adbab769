/**
 * MQTT consumers of push-pull queues (issue 4, point 4). A subscription to `$queue/<name>` or
 * `$share/<group>/$queue/<name>` makes the connection a consumer of the queue, with MQTT shared
 * subscription semantics: consumers compete, each message goes to one of them. Each consumer
 * holds one message at a time, sent with QoS 1; its PUBACK is the ack (a v5 PUBACK with a
 * reason >= 0x80 is a nack). A consumer that disconnects, unsubscribes or never acks hands the
 * message back: visible again at once, or when its visibility timeout runs out.
 *
 * Consumers live with the connection, not the session: they are not stored and do not count
 * towards the session's subscriptions, because the queue itself keeps the messages.
 */
import { isPalisadeError } from '../../core/errors.ts';
import type { Delivery } from '../../core/messaging/message.ts';
import { Actions } from '../../core/policy/actions.ts';
import type { QueueCaller, QueueService } from '../../core/queues/service.ts';
import type { LeasedMessage } from '../../core/queues/types.ts';
import type { MqttConnection } from './connection.ts';
import { RC } from './reason-codes.ts';

export const QUEUE_PREFIX = '$queue/';
/** A waiting pull is renewed this often, so a consumer notices policy changes and shutdown. */
const PULL_WAIT_MS = 20_000;

interface Consumer {
  readonly name: string;
  readonly subscriptionIds: number[];
  readonly abort: AbortController;
  /** Resolves the wait for the PUBACK of the message in flight: true ack, false nack/lost. */
  settle: ((acked: boolean) => void) | null;
  packetId: number | null;
}

const consumers = new WeakMap<MqttConnection, Map<string, Consumer>>();

/** The queue name when `filter` (without any `$share/<group>/`) names a queue, else null. */
export function queueNameOf(filter: string): string | null {
  if (!filter.startsWith(QUEUE_PREFIX)) return null;
  return filter.slice(QUEUE_PREFIX.length);
}

function callerOf(conn: MqttConnection): QueueCaller {
  return { principal: conn.principal?.id ?? null, source: conn.remote, policy: conn.policy };
}

/**
 * Handles one SUBSCRIBE entry naming a queue; returns the granted QoS (1) or a refusal code.
 * `raw` is the filter as sent (the key UNSUBSCRIBE uses).
 */
export function subscribeQueue(conn: MqttConnection, queues: QueueService, raw: string, name: string, subscriptionId: number | null): number {
  const v5 = conn.version === 5;
  for (const action of [Actions.queuePull, Actions.queueAck]) {
    const d = conn.policy!.authorize(action, name, { source: conn.remoteAddress });
    if (!d.allowed) {
      conn.record('queue.pull_denied', 'warning', { queue: name, action, rule: d.rule });
      return v5 ? RC.NOT_AUTHORIZED : 0x80;
    }
  }
  let mine = consumers.get(conn);
  if (!mine) {
    consumers.set(conn, (mine = new Map<string, Consumer>()));
    conn.closeListeners.push(() => {
      for (const c of mine!.values()) stop(c);
      consumers.delete(conn);
    });
  }
  const old = mine.get(raw);
  if (old) stop(old);
  const c: Consumer = { name, subscriptionIds: subscriptionId === null ? [] : [subscriptionId], abort: new AbortController(), settle: null, packetId: null };
  mine.set(raw, c);
  void run(conn, queues, c);
  return 1;
}

/** UNSUBSCRIBE of a queue filter; false when it was not one this connection consumes. */
export function unsubscribeQueue(conn: MqttConnection, raw: string): boolean {
  const c = consumers.get(conn)?.get(raw);
  if (!c) return false;
  consumers.get(conn)!.delete(raw);
  stop(c);
  return true;
}

/** A PUBACK: true when it acknowledged a queue message (then the session must not see it). */
export function queuePuback(conn: MqttConnection, packetId: number, reasonCode: number): boolean {
  const mine = consumers.get(conn);
  if (!mine) return false;
  for (const c of mine.values()) {
    if (c.packetId !== packetId || !c.settle) continue;
    c.settle(reasonCode < 0x80);
    return true;
  }
  return false;
}

function stop(c: Consumer): void {
  c.abort.abort();
  c.settle?.(false);
}

async function run(conn: MqttConnection, queues: QueueService, c: Consumer): Promise<void> {
  const signal = c.abort.signal;
  while (!signal.aborted && !conn.closed) {
    let m: LeasedMessage | null;
    try {
      m = await queues.pull(callerOf(conn), c.name, { waitMs: PULL_WAIT_MS, signal });
    } catch (err) {
      // Refused after a policy change, or the store failed: this consumer ends, the connection stays.
      conn.record('queue.consumer_stopped', 'warning', { queue: c.name, code: isPalisadeError(err) ? err.code : 'error' });
      return;
    }
    if (!m) continue;
    const session = conn.session;
    if (signal.aborted || conn.closed || !session) {
      await queues.release(c.name, m.receipt).catch(() => undefined);
      return;
    }
    // A late ack after the lease ran out finds it gone (NOT_FOUND): the message went to another consumer.
    if (await deliver(conn, c, m)) await queues.ack(callerOf(conn), c.name, m.receipt).catch(() => undefined);
    // Nacked, lost, or the consumer went away: visible again now, not after the visibility timeout.
    else await queues.release(c.name, m.receipt).catch(() => undefined);
  }
}

/** Sends one message with QoS 1 and waits for its PUBACK, at most the visibility timeout. */
function deliver(conn: MqttConnection, c: Consumer, m: LeasedMessage): Promise<boolean> {
  const session = conn.session!;
  const packetId = session.allocateExternalPacketId();
  const delivery: Delivery = {
    message: { topic: QUEUE_PREFIX + c.name, payload: m.payload, qos: 1, retain: false, properties: m.properties, expiresAt: null, origin: null },
    qos: 1,
    retain: false,
    subscriptionIds: c.subscriptionIds,
  };
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => c.settle?.(false), Math.max(0, m.visibleAt - Date.now()));
    c.packetId = packetId;
    c.settle = (acked) => {
      clearTimeout(timer);
      c.settle = null;
      c.packetId = null;
      session.externalPacketIds.delete(packetId);
      resolve(acked);
    };
    conn.sendPublish(delivery, packetId, false);
  });
}
