/**
 * One device's counters for the window in progress. Everything is bounded: topics and
 * addresses are remembered up to a cap (the count saturates there, which is already far above
 * any sane baseline), the rest are plain numbers.
 */
import type { MetricName } from './types.ts';

/** Distinct source addresses remembered per window. */
const MAX_ADDRESSES = 32;

export class DeviceWindow {
  messageBytesMax = 0;
  messageBytesTotal = 0;
  messagesSent = 0;
  messagesReceived = 0;
  authorizationFailures = 0;
  authenticationFailures = 0;
  connectionAttempts = 0;
  disconnects = 0;
  dnsLookups = 0;
  readonly #topics = new Set<string>();
  readonly #addresses = new Set<string>();
  readonly #maxTopics: number;
  /** Anything counted since the last reset (a silent window still yields zero data points). */
  active = false;

  constructor(maxTopics: number) {
    this.#maxTopics = maxTopics;
  }

  addTopic(topic: string): void {
    if (this.#topics.size < this.#maxTopics) this.#topics.add(topic);
  }

  addAddress(address: string): void {
    if (this.#addresses.size < MAX_ADDRESSES) this.#addresses.add(address);
  }

  value(metric: MetricName): number {
    switch (metric) {
      case 'topicFanout':
        return this.#topics.size;
      case 'sourceAddresses':
        return this.#addresses.size;
      default:
        return this[metric];
    }
  }

  reset(): void {
    this.messageBytesMax = 0;
    this.messageBytesTotal = 0;
    this.messagesSent = 0;
    this.messagesReceived = 0;
    this.authorizationFailures = 0;
    this.authenticationFailures = 0;
    this.connectionAttempts = 0;
    this.disconnects = 0;
    this.dnsLookups = 0;
    this.#topics.clear();
    this.#addresses.clear();
    this.active = false;
  }
}

/** `1.2.3.4:5678` / `[::1]:5678` / `::ffff:1.2.3.4` -> the address alone, so a new port is not a new source. */
export function addressOf(source: string): string {
  if (source.startsWith('[')) {
    const end = source.indexOf(']');
    return end > 0 ? source.slice(1, end) : source;
  }
  const colon = source.indexOf(':');
  // One colon: IPv4 with a port. Several: a bare IPv6 address.
  const a = colon >= 0 && colon === source.lastIndexOf(':') ? source.slice(0, colon) : source;
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
