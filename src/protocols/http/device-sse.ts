/**
 * A topic subscription served as Server-Sent Events (WHATWG HTML §9.2, text/event-stream).
 * Each message is one `message` event: `id` counts up per stream, `data` is one line of JSON
 * `{topic, payload, encoding, retain, qos, contentType?}` with the payload as UTF-8 text when it
 * is valid UTF-8 and base64 otherwise. A comment line every heartbeat keeps proxies and the
 * client's idle timers from closing a quiet stream.
 *
 * When the subscription ends on the gateway's side (policy withdrawn, certificate revoked,
 * device moved or removed, shutdown) an `end` event says why, then the response ends. Backpressure:
 * the subscription is told the stream is not writable while the socket buffer is above its high
 * water mark; the broker session then queues (bounded) and is pumped again on 'drain'.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyReply } from 'fastify';
import type { DeviceContext, DeviceMessage, DeviceMessaging, SubscriptionEndReason } from '../../core/messaging/device-messaging.ts';
import type { Action } from '../../core/policy/actions.ts';

export interface SseOptions {
  heartbeatMs: number;
  /** A client that leaves the stream unwritable this long is cut off (a slow consumer must not pin memory). */
  drainTimeoutMs: number;
  /** Told when a slow consumer is cut off, for the event log. */
  onSlowConsumer: () => void;
  /** Permissions the stream needs besides the subscription (`http:get` on the request path). */
  alsoRequires: ReadonlyArray<{ action: Action; resource: string }>;
}

function eventData(m: DeviceMessage): string {
  const text = isUtf8(m.payload);
  const data: Record<string, unknown> = {
    topic: m.topic,
    payload: text ? m.payload.toString('utf8') : m.payload.toString('base64'),
    encoding: text ? 'utf8' : 'base64',
    retain: m.retain,
    qos: m.qos,
  };
  if (m.properties.contentType !== undefined) data.contentType = m.properties.contentType;
  // JSON.stringify escapes CR and LF, so the data is one line as SSE needs.
  return JSON.stringify(data);
}

/**
 * Subscribes (throwing the facade's refusal before anything is written), then takes the
 * response over and streams until either side ends it.
 */
export function serveEventStream(reply: FastifyReply, messaging: DeviceMessaging, ctx: DeviceContext, filter: string, opts: SseOptions): void {
  const raw = reply.raw;
  let nextId = 1;
  let heartbeat: NodeJS.Timeout | null = null;
  let stalled: NodeJS.Timeout | null = null;
  const stopTimers = (): void => {
    if (heartbeat !== null) clearInterval(heartbeat);
    if (stalled !== null) clearTimeout(stalled);
    heartbeat = null;
    stalled = null;
  };
  const writable = (): boolean => {
    if (raw.destroyed) return false;
    if (!raw.writableNeedDrain) return true;
    // Backpressured: the broker session queues (bounded) meanwhile; past the timeout the client goes.
    stalled ??= setTimeout(() => {
      opts.onSlowConsumer();
      raw.destroy();
    }, opts.drainTimeoutMs);
    return false;
  };
  const sub = messaging.subscribe(
    ctx,
    filter,
    (m) => {
      raw.write(`id: ${nextId++}\nevent: message\ndata: ${eventData(m)}\n\n`);
    },
    {
      qos: 1,
      writable,
      alsoRequires: opts.alsoRequires,
      onEnd: (reason: SubscriptionEndReason) => {
        stopTimers();
        if (raw.destroyed || raw.writableEnded) return;
        raw.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      },
    },
  );
  void reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(`: subscribed ${filter.replace(/[\r\n]/g, ' ')}\n\n`);
  heartbeat = setInterval(() => {
    if (writable()) raw.write(': heartbeat\n\n');
  }, opts.heartbeatMs);
  heartbeat.unref();
  raw.on('drain', () => {
    if (stalled !== null) clearTimeout(stalled);
    stalled = null;
    sub.drained();
  });
  raw.on('close', () => {
    stopTimers();
    sub.unsubscribe();
  });
  sub.ready.catch(() => {
    sub.unsubscribe();
    raw.destroy();
  });
}
