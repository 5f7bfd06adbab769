/**
 * Push-pull queues (issue 4, point 4): the store port and the records it keeps. A queue is a
 * name; a message lives in the store from push until ack, so a restart loses nothing that was
 * not acknowledged. A pulled message is leased: invisible until acked, nacked or until its
 * visibility deadline passes, then visible again (at-least-once delivery, like SQS).
 */
import type { MessageProperties } from '../ports.ts';

export interface QueueMessage {
  id: number;
  queue: string;
  payload: Buffer;
  properties: MessageProperties;
  enqueuedAt: number;
  /** How many times it has been leased, this lease included. */
  deliveries: number;
}

/** A leased message and the receipt that acks or nacks this lease (and no later one). */
export interface LeasedMessage extends QueueMessage {
  receipt: string;
  /** When the lease ends and the message becomes visible again. */
  visibleAt: number;
}

export interface QueueBounds {
  maxMessages: number;
  maxBytes: number;
}

export interface QueueStats {
  /** Every message held, leased or not. */
  messages: number;
  bytes: number;
  /** Leased and not yet visible again. */
  inflight: number;
}

export interface QueueRepo {
  /** Appends unless the queue would exceed `bounds`; null when full. Atomic per call. */
  push(queue: string, m: { payload: Buffer; properties: MessageProperties; enqueuedAt: number }, bounds: QueueBounds): Promise<number | null>;
  /**
   * Leases the oldest visible message: sets its receipt and visibility deadline and counts the
   * delivery. Visible messages already delivered `maxDeliveries` times are first moved to
   * `deadLetter` (which keeps at most `bounds.maxMessages`, dropping its oldest).
   */
  lease(queue: string, opts: { now: number; visibleAt: number; receipt: string; maxDeliveries: number; deadLetter: string; bounds: QueueBounds }): Promise<{ message: LeasedMessage | null; deadLettered: number[] }>;
  /** Deletes the message held under this receipt; false when the lease is gone (expired and re-leased, or acked). */
  ack(queue: string, receipt: string): Promise<boolean>;
  /** Ends the lease: visible again at `visibleAt`. Null when the lease is gone; else the delivery count. */
  nack(queue: string, receipt: string, visibleAt: number): Promise<number | null>;
  stats(queue: string, now: number): Promise<QueueStats>;
  /** Earliest visibility deadline of a leased or delayed message, or null. */
  nextVisibleAt(queue: string, now: number): Promise<number | null>;
}
