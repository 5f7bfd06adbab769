/**
 * Observe (RFC 7641) bound to topic subscriptions of the messaging facade. A registration is
 * keyed by (peer, token) (§3.2): re-registering with the same token replaces it. Each message
 * becomes a 2.05 notification with an increasing 24-bit sequence number (§3.4, §4.4).
 * A CON registration gets CON notifications; while one is unacknowledged only the newest
 * waiting message is kept (§4.5.2). The observation ends on Observe=1 (§3.6), an RST
 * (§3.6), a CON notification never acknowledged (§4.5), or when the subscription ends (policy,
 * device moved, certificate revoked): then a final 4.03/4.01/5.03 notification tells the
 * client (§3.2: a non-2.xx notification ends it).
 */
import type { DeviceContext, DeviceMessage, DeviceMessaging, SubscriptionEndReason, Subscription } from '../../core/messaging/device-messaging.ts';
import { Actions } from '../../core/policy/actions.ts';
import { Blockwise } from './blockwise.ts';
import { szxFor } from './block.ts';
import { Code, Option } from './constants.ts';
import { uintOption } from './codec.ts';
import { contentFormatOption } from './content-format.ts';
import type { CoapEndpoint, CoapPeer, CoapResponse } from './endpoint.ts';

export interface ObserveOptions {
  maxPerPeer: number;
  maxTotal: number;
  preferredBlockSize: number;
  /** Messages held for an observation before its registration response went out. */
  maxEarly: number;
  /**
   * RFC 7641 §4.5: even a NON observation gets a CON notification at least this often, so a
   * client that went away is noticed (24 h by default).
   */
  confirmEveryMs?: number;
  now?: () => number;
}

export const CONFIRM_EVERY_MS = 24 * 3_600_000;

class Observation {
  readonly key: string;
  readonly peer: CoapPeer;
  readonly token: Buffer;
  readonly confirmable: boolean;
  sub: Subscription | null = null;
  seq = 2;
  active = false;
  early: DeviceMessage[] = [];
  inFlight = false;
  waiting: CoapResponse | null = null;
  ended = false;
  /** When the client last acknowledged a notification (or registered). */
  lastConfirmedAt: number;

  constructor(key: string, peer: CoapPeer, token: Buffer, confirmable: boolean, now: number) {
    this.key = key;
    this.peer = peer;
    this.token = token;
    this.confirmable = confirmable;
    this.lastConfirmedAt = now;
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) & 0xffffff;
    return this.seq;
  }
}

const END_CODES: Record<SubscriptionEndReason, number> = {
  unsubscribed: Code.SERVICE_UNAVAILABLE,
  policy: Code.FORBIDDEN,
  'device-changed': Code.FORBIDDEN,
  'device-removed': Code.UNAUTHORIZED,
  'cert-revoked': Code.UNAUTHORIZED,
  banned: Code.FORBIDDEN,
  evicted: Code.SERVICE_UNAVAILABLE,
  'consumer-error': Code.INTERNAL_SERVER_ERROR,
  shutdown: Code.SERVICE_UNAVAILABLE,
};

export class Observations {
  readonly #all = new Map<string, Observation>();
  readonly #endpoint: CoapEndpoint;
  readonly #messaging: DeviceMessaging;
  readonly #opts: ObserveOptions;
  readonly #now: () => number;
  readonly #confirmEveryMs: number;

  constructor(endpoint: CoapEndpoint, messaging: DeviceMessaging, opts: ObserveOptions) {
    this.#endpoint = endpoint;
    this.#messaging = messaging;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#confirmEveryMs = opts.confirmEveryMs ?? CONFIRM_EVERY_MS;
  }

  get size(): number {
    return this.#all.size;
  }

  /**
   * Registers (throws the facade's PalisadeError when not allowed, or QUOTA_EXCEEDED when over
   * the caps) and returns the registration response; notifications start after it is sent.
   */
  register(ctx: DeviceContext, peer: CoapPeer, token: Buffer, confirmable: boolean, filter: string, path: string): CoapResponse {
    const key = `${peer.key}#${token.toString('hex')}`;
    this.cancel(peer.key, token);
    const obs = new Observation(key, peer, token, confirmable, this.#now());
    let perPeer = 0;
    for (const o of this.#all.values()) if (o.peer.key === peer.key) perPeer++;
    if (perPeer >= this.#opts.maxPerPeer || this.#all.size >= this.#opts.maxTotal) {
      return { code: Code.SERVICE_UNAVAILABLE, options: [{ number: Option.MAX_AGE, value: uintOption(30) }] };
    }
    obs.sub = this.#messaging.subscribe(ctx, filter, (m) => this.#onMessage(obs, m), {
      qos: 0,
      alsoRequires: [{ action: Actions.coapObserve, resource: path }],
      onEnd: (reason) => this.#ended(obs, END_CODES[reason]),
    });
    this.#all.set(key, obs);
    return {
      code: Code.CONTENT,
      options: [{ number: Option.OBSERVE, value: uintOption(obs.seq) }],
      afterSend: () => {
        obs.active = true;
        const early = obs.early;
        obs.early = [];
        for (const m of early) this.#onMessage(obs, m);
      },
    };
  }

  /** Observe=1 or an RST: the client is done with this token. */
  cancel(peerKey: string, token: Buffer): boolean {
    const key = `${peerKey}#${token.toString('hex')}`;
    const obs = this.#all.get(key);
    if (!obs) return false;
    this.#remove(obs);
    return true;
  }

  cancelPeer(peerKey: string): void {
    for (const o of [...this.#all.values()]) if (o.peer.key === peerKey) this.#remove(o);
  }

  close(): void {
    for (const o of [...this.#all.values()]) this.#remove(o);
  }

  #remove(obs: Observation): void {
    obs.ended = true;
    if (this.#all.get(obs.key) === obs) this.#all.delete(obs.key);
    obs.sub?.unsubscribe();
  }

  #ended(obs: Observation, code: number): void {
    if (obs.ended) return;
    this.#remove(obs);
    this.#send(obs, { code }, true);
  }

  #onMessage(obs: Observation, m: DeviceMessage): void {
    if (obs.ended) return;
    if (!obs.active) {
      if (obs.early.length < this.#opts.maxEarly) obs.early.push(m);
      return;
    }
    const res: CoapResponse = {
      code: Code.CONTENT,
      options: [{ number: Option.OBSERVE, value: uintOption(obs.nextSeq()) }, ...contentFormatOption(m.properties)],
      payload: m.payload,
    };
    // A large notification carries its first block; the client fetches the rest with GET (RFC 7959 §2.6).
    this.#send(obs, Blockwise.sliceResponse(res, 0, szxFor(this.#opts.preferredBlockSize)), false);
  }

  #send(obs: Observation, res: CoapResponse, final: boolean): void {
    const due = !final && this.#now() - obs.lastConfirmedAt >= this.#confirmEveryMs;
    if (!obs.confirmable && !due && !obs.inFlight) {
      this.#endpoint.sendNonConfirmable(obs.peer, obs.token, res);
      return;
    }
    if (obs.inFlight && !final) {
      obs.waiting = res; // §4.5.2: the newest state replaces one not yet sent.
      return;
    }
    obs.inFlight = true;
    this.#endpoint.sendConfirmable(obs.peer, obs.token, res, (outcome) => {
      obs.inFlight = false;
      if (outcome !== 'timeout' && outcome !== 'reset') obs.lastConfirmedAt = this.#now();
      if (outcome === 'timeout' || outcome === 'reset') {
        // §4.5: a client that does not acknowledge a CON notification is no longer interested.
        if (!obs.ended) this.#remove(obs);
        return;
      }
      const next = obs.waiting;
      obs.waiting = null;
      if (next && !obs.ended) this.#send(obs, next, false);
    });
  }
}
