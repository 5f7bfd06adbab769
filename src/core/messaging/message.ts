/** An application message as it moves through the router, independent of any protocol. */
import type { MessageProperties } from '../ports.ts';

export interface AppMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MessageProperties;
  /** Absolute expiry from the message expiry interval, or null. */
  expiresAt: number | null;
  /** Client id of the publisher, for No Local; null for messages the gateway makes. */
  origin: string | null;
  /**
   * Encodings of this message cached by protocol adapters during one fan-out, so a PUBLISH
   * going to many subscribers is serialised once per variant, not once per subscriber.
   */
  encodings?: Map<string, Buffer>;
}

/** What one session receives: the message plus the per-subscription delivery flags. */
export interface Delivery {
  message: AppMessage;
  qos: 0 | 1 | 2;
  retain: boolean;
  subscriptionIds: number[];
}
