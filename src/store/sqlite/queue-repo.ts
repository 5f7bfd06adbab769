/**
 * Queue messages (core/queues) in SQLite: one row per message from push until ack. Bounds and
 * leases are decided inside IMMEDIATE transactions, so two gateways (or a gateway and the CLI)
 * on one file never lease the same message twice or overfill a queue.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { MessageProperties } from '../../core/ports.ts';
import type { LeasedMessage, QueueBounds, QueueRepo, QueueStats } from '../../core/queues/types.ts';
import { attempt, blob, int, intOrNull, json, text, type Row, type Transaction } from './sql-util.ts';

export class SqliteQueueRepo implements QueueRepo {
  readonly #tx: Transaction;
  readonly #usage: StatementSync;
  readonly #insert: StatementSync;
  readonly #nextVisible: StatementSync;
  readonly #lease: StatementSync;
  readonly #deadLetter: StatementSync;
  readonly #oldest: StatementSync;
  readonly #deleteId: StatementSync;
  readonly #ack: StatementSync;
  readonly #nack: StatementSync;
  readonly #inflight: StatementSync;
  readonly #earliest: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#usage = db.prepare('SELECT COALESCE(MAX(messages), 0) AS n, COALESCE(MAX(bytes), 0) AS bytes FROM queue_usage WHERE queue = ?');
    this.#insert = db.prepare('INSERT INTO queue_messages (queue, payload, properties, size, enqueued_at, visible_at, deliveries, receipt) VALUES (?, ?, ?, ?, ?, ?, 0, NULL)');
    this.#nextVisible = db.prepare('SELECT id, queue, payload, properties, enqueued_at, deliveries FROM queue_messages WHERE queue = ? AND visible_at <= ? ORDER BY id LIMIT 1');
    this.#lease = db.prepare('UPDATE queue_messages SET receipt = ?, visible_at = ?, deliveries = deliveries + 1 WHERE id = ?');
    this.#deadLetter = db.prepare('UPDATE queue_messages SET queue = ?, visible_at = ?, deliveries = 0, receipt = NULL WHERE id = ?');
    this.#oldest = db.prepare('SELECT id FROM queue_messages WHERE queue = ? ORDER BY id LIMIT 1');
    this.#deleteId = db.prepare('DELETE FROM queue_messages WHERE id = ?');
    this.#ack = db.prepare('DELETE FROM queue_messages WHERE queue = ? AND receipt = ?');
    this.#nack = db.prepare('UPDATE queue_messages SET receipt = NULL, visible_at = ? WHERE queue = ? AND receipt = ? RETURNING deliveries');
    this.#inflight = db.prepare('SELECT COUNT(*) AS n FROM queue_messages WHERE queue = ? AND receipt IS NOT NULL AND visible_at > ?');
    this.#earliest = db.prepare('SELECT MIN(visible_at) AS at FROM queue_messages WHERE queue = ? AND visible_at > ?');
  }

  push(queue: string, m: { payload: Buffer; properties: MessageProperties; enqueuedAt: number }, bounds: QueueBounds): Promise<number | null> {
    return attempt('queues.push', () =>
      this.#tx(() => {
        const usage = this.#usage.get(queue) ?? {};
        if (int(usage, 'n') + 1 > bounds.maxMessages || int(usage, 'bytes') + m.payload.length > bounds.maxBytes) return null;
        const r = this.#insert.run(queue, m.payload, JSON.stringify(m.properties), m.payload.length, m.enqueuedAt, m.enqueuedAt);
        return Number(r.lastInsertRowid);
      }),
    );
  }

  lease(queue: string, o: { now: number; visibleAt: number; receipt: string; maxDeliveries: number; deadLetter: string; bounds: QueueBounds }): Promise<{ message: LeasedMessage | null; deadLettered: number[] }> {
    return attempt('queues.lease', () =>
      this.#tx(() => {
        const deadLettered: number[] = [];
        for (;;) {
          const row = this.#nextVisible.get(queue, o.now);
          if (row === undefined) return { message: null, deadLettered };
          const id = int(row, 'id');
          const deliveries = int(row, 'deliveries');
          if (deliveries >= o.maxDeliveries) {
            this.#moveToDeadLetter(id, o.deadLetter, o.now, o.bounds);
            deadLettered.push(id);
            continue;
          }
          this.#lease.run(o.receipt, o.visibleAt, id);
          return { message: { ...toMessage(row), deliveries: deliveries + 1, receipt: o.receipt, visibleAt: o.visibleAt }, deadLettered };
        }
      }),
    );
  }

  ack(queue: string, receipt: string): Promise<boolean> {
    return attempt('queues.ack', () => Number(this.#ack.run(queue, receipt).changes) > 0);
  }

  nack(queue: string, receipt: string, visibleAt: number): Promise<number | null> {
    return attempt('queues.nack', () => {
      const row = this.#nack.get(visibleAt, queue, receipt);
      return row === undefined ? null : int(row, 'deliveries');
    });
  }

  stats(queue: string, now: number): Promise<QueueStats> {
    return attempt('queues.stats', () => {
      const usage = this.#usage.get(queue) ?? {};
      return { messages: int(usage, 'n'), bytes: int(usage, 'bytes'), inflight: int(this.#inflight.get(queue, now) ?? {}, 'n') };
    });
  }

  nextVisibleAt(queue: string, now: number): Promise<number | null> {
    return attempt('queues.nextVisibleAt', () => intOrNull(this.#earliest.get(queue, now) ?? { at: null }, 'at'));
  }

  /** The dead-letter queue keeps its newest `maxMessages`: a poison stream cannot grow it without end. */
  #moveToDeadLetter(id: number, deadLetter: string, now: number, bounds: QueueBounds): void {
    this.#deadLetter.run(deadLetter, now, id);
    for (;;) {
      const usage = this.#usage.get(deadLetter) ?? {};
      if (int(usage, 'n') <= bounds.maxMessages && int(usage, 'bytes') <= bounds.maxBytes) return;
      const oldest = this.#oldest.get(deadLetter);
      if (oldest === undefined) return;
      this.#deleteId.run(int(oldest, 'id'));
    }
  }
}

function toMessage(row: Row): Omit<LeasedMessage, 'receipt' | 'visibleAt'> {
  return {
    id: int(row, 'id'),
    queue: text(row, 'queue'),
    payload: blob(row, 'payload'),
    properties: json<MessageProperties>(row, 'properties'),
    enqueuedAt: int(row, 'enqueued_at'),
    deliveries: int(row, 'deliveries'),
  };
}
