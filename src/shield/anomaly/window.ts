/**
 * One device's counters for the window in progress. Everything is bounded: topics and
 * addresses are remembered up to a cap (the count saturates there, which is already far above
 * any sane baseline), the rest are plain numbers.
 */
import type { MetricName } from './types.ts';

/** Distinct source addresses remembered per window. */
const MAX_ADDRESSES = 32;
/** Below this many lookups in a window the NXDOMAIN rate reads 0: one failed lookup is not a 100 % rate. */
export const MIN_LOOKUPS_FOR_RATE = 10;

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
  dnsNewNames = 0;
  dnsNxdomain = 0;
  dnsDgaMax = 0;
  dnsDgaNames = 0;
  dnsBlocked = 0;
  /** Most devices use one topic and one address a window: a Set only from the second. */
  #topic: string | null = null;
  #topics: Set<string> | null = null;
  #address: string | null = null;
  #addresses: Set<string> | null = null;
  readonly #maxTopics: number;
  /** Anything counted since the last reset (a silent window still yields zero data points). */
  active = false;

  constructor(maxTopics: number) {
    this.#maxTopics = maxTopics;
  }

  addTopic(topic: string): void {
    if (this.#topic === null) {
      this.#topic = topic;
      return;
    }
    if (topic === this.#topic) return;
    this.#topics ??= new Set([this.#topic]);
    if (this.#topics.size < this.#maxTopics) this.#topics.add(topic);
  }

  addAddress(address: string): void {
    if (this.#address === null) {
      this.#address = address;
      return;
    }
    if (address === this.#address) return;
    this.#addresses ??= new Set([this.#address]);
    if (this.#addresses.size < MAX_ADDRESSES) this.#addresses.add(address);
  }

  value(metric: MetricName): number {
    switch (metric) {
      case 'topicFanout':
        return this.#topics?.size ?? (this.#topic === null ? 0 : 1);
      case 'sourceAddresses':
        return this.#addresses?.size ?? (this.#address === null ? 0 : 1);
      case 'dnsNxdomainRate':
        return this.dnsLookups < MIN_LOOKUPS_FOR_RATE ? 0 : this.dnsNxdomain / this.dnsLookups;
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
    this.dnsNewNames = 0;
    this.dnsNxdomain = 0;
    this.dnsDgaMax = 0;
    this.dnsDgaNames = 0;
    this.dnsBlocked = 0;
    this.#topic = null;
    this.#topics = null;
    this.#address = null;
    this.#addresses = null;
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
