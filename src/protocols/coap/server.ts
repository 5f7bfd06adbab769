/**
 * The CoAP server: one message layer (endpoint.ts) with blockwise (blockwise.ts) in front of
 * the resources, and the pipeline of DESIGN.md §1 per request: identity (the transport says who
 * the peer is: the DTLS session's device, or the anonymous segment on plain UDP, else 4.01),
 * `coap:<method>` on the request path (`coap:observe` for an Observe registration), then the
 * resource, which calls the messaging facade (mqtt:publish / subscribe / receive). Every refusal
 * is a security event; errors from core become CoAP codes at this edge (errors.ts).
 *
 * Transports (udp-listener.ts, dtls-adapter.ts) hand datagrams to receive() with a CoapServerPeer.
 */
import { isPalisadeError } from '../../core/errors.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { DeviceContext, DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import { Actions, type Action } from '../../core/policy/actions.ts';
import type { CompiledPolicy, PolicyEngine } from '../../core/policy/types.ts';
import { Blockwise } from './blockwise.ts';
import { Code, isCritical, KNOWN_OPTIONS, Option } from './constants.ts';
import { firstOption, uintOf, uintOption, uriPath } from './codec.ts';
import { CoapEndpoint, type CoapPeer, type CoapResponse, type EndpointOptions, type IncomingRequest } from './endpoint.ts';
import { coapCodeFor } from './errors.ts';
import { Observations, type ObserveOptions } from './observe.ts';
import { PubSubResource } from './ps-resource.ts';
import { RateLimitedEvents } from './rate-limited-events.ts';
import { CoapRouter } from './router.ts';
import { WellKnownCore } from './well-known.ts';

export interface CoapServerPeer extends CoapPeer {
  /** Who the peer is, or null (answered 4.01). Cached by the transport. */
  identify(): DevicePrincipal | null | Promise<DevicePrincipal | null>;
}

export interface CoapLimits {
  maxBodySize: number;
  preferredBlockSize: number;
  maxObservationsPerPeer: number;
  maxObservations: number;
}

export interface CoapServerDeps {
  messaging: DeviceMessaging;
  policy: PolicyEngine;
  events: Pick<EventLog, 'record'>;
  limits: CoapLimits;
  endpoint?: Partial<EndpointOptions>;
  /** Observe timing (tests shorten the periodic CON of RFC 7641 §4.5). */
  observe?: Pick<ObserveOptions, 'confirmEveryMs' | 'now'>;
}

export const DEFAULT_COAP_LIMITS: CoapLimits = { maxBodySize: 256 * 1024, preferredBlockSize: 1024, maxObservationsPerPeer: 16, maxObservations: 10_000 };

const METHOD_ACTIONS: Partial<Record<number, Action>> = {
  [Code.GET]: Actions.coapGet,
  [Code.POST]: Actions.coapPost,
  [Code.PUT]: Actions.coapPut,
  [Code.DELETE]: Actions.coapDelete,
};

export class CoapServer {
  readonly router = new CoapRouter();
  readonly endpoint: CoapEndpoint;
  readonly observations: Observations;
  readonly blockwise: Blockwise;
  readonly #deps: CoapServerDeps;
  readonly #limited: RateLimitedEvents;
  readonly #compiled = new WeakMap<DevicePrincipal, CompiledPolicy>();

  constructor(deps: CoapServerDeps) {
    this.#deps = deps;
    this.#limited = new RateLimitedEvents(deps.events);
    this.blockwise = new Blockwise({
      maxBodySize: deps.limits.maxBodySize,
      preferredBlockSize: deps.limits.preferredBlockSize,
      maxReassemblies: 1000,
      maxReassembliesPerPeer: 4,
      reassemblyTimeoutMs: 60_000,
      onRejected: (req, reason) => this.#refused(req.peer, null, 'coap.blockwise_refused', { reason }),
    });
    this.endpoint = new CoapEndpoint(this.blockwise.wrap((req) => this.#handle(req)), {
      ...deps.endpoint,
      onRejected: (peer, reason) => this.#refused(peer, null, 'coap.malformed', { reason }),
      onReset: (peer, token) => this.observations.cancel(peer.key, token),
      onHandlerError: (err) => deps.events.record('coap.error', 'critical', { detail: { error: err instanceof Error ? err.message : String(err) } }),
    });
    this.observations = new Observations(this.endpoint, deps.messaging, {
      maxPerPeer: deps.limits.maxObservationsPerPeer,
      maxTotal: deps.limits.maxObservations,
      preferredBlockSize: deps.limits.preferredBlockSize,
      maxEarly: 64,
      ...deps.observe,
    });
    this.router.add(['ps'], new PubSubResource(deps.messaging, this.observations));
    this.router.add(['.well-known', 'core'], new WellKnownCore(this.router));
  }

  receive(peer: CoapServerPeer, datagram: Buffer): void {
    this.endpoint.receive(peer, datagram);
  }

  /** The transport association ended (DTLS session closed): its observations and CONs go. */
  peerGone(peerKey: string): void {
    this.observations.cancelPeer(peerKey);
    this.endpoint.forgetPeer(peerKey);
  }

  close(): void {
    this.observations.close();
    this.endpoint.close();
  }

  async #handle(req: IncomingRequest): Promise<CoapResponse> {
    const peer = req.peer as CoapServerPeer;
    const m = req.message;
    // RFC 7252 §5.4.1: an unrecognised critical option in a request is 4.02 Bad Option.
    const unknown = m.options.find((o) => isCritical(o.number) && !KNOWN_OPTIONS.has(o.number));
    if (unknown !== undefined) return { code: Code.BAD_OPTION };
    if (firstOption(m, Option.PROXY_URI) !== undefined || firstOption(m, Option.PROXY_SCHEME) !== undefined) {
      return { code: Code.PROXYING_NOT_SUPPORTED }; // §5.7.2: this server is no proxy.
    }
    const segments = uriPath(m);
    if (segments.some((s) => s.length === 0 || s.includes('/') || s === '.' || s === '..')) return { code: Code.BAD_REQUEST };
    const path = `/${segments.join('/')}`;
    const known = peer.identify();
    const principal = known instanceof Promise ? await known : known;
    if (principal === null) {
      this.#refused(peer, null, 'coap.unauthenticated', { path });
      return { code: Code.UNAUTHORIZED };
    }
    const ctx: DeviceContext = { principal, policy: this.#policyFor(principal), source: peer.address, protocol: 'coap' };
    const observeRegister = m.code === Code.GET && uintOf(m, Option.OBSERVE) === 0 && firstOption(m, Option.OBSERVE) !== undefined;
    const action = observeRegister ? Actions.coapObserve : METHOD_ACTIONS[m.code];
    if (action === undefined) return { code: Code.METHOD_NOT_ALLOWED };
    const decision = ctx.policy.authorize(action, path, { source: peer.address });
    if (!decision.allowed) {
      this.#refused(peer, principal.id, 'coap.request_denied', { action, path, rule: decision.rule });
      return { code: Code.FORBIDDEN };
    }
    const route = this.router.match(segments);
    if (route === null) return { code: Code.NOT_FOUND };
    try {
      return await route.resource.handle({ peer, message: m, method: m.code, rest: route.rest, path, ctx });
    } catch (err) {
      const code = coapCodeFor(err);
      // The facade recorded its own refusals; anything else is worth a critical event.
      if (!isPalisadeError(err)) this.#deps.events.record('coap.error', 'critical', { principal: principal.id, source: peer.address, detail: { path, error: err instanceof Error ? err.message : String(err) } });
      const res: CoapResponse = { code };
      if (code === Code.REQUEST_ENTITY_TOO_LARGE) res.options = [{ number: Option.SIZE1, value: uintOption(this.#deps.limits.maxBodySize) }];
      // RFC 8516 §3: 4.29's Max-Age says when to try again.
      const retry = isPalisadeError(err) ? err.detail?.retryAfterMs : undefined;
      if (code === Code.TOO_MANY_REQUESTS && typeof retry === 'number') res.options = [{ number: Option.MAX_AGE, value: uintOption(Math.max(1, Math.ceil(retry / 1000))) }];
      return res;
    }
  }

  #policyFor(principal: DevicePrincipal): CompiledPolicy {
    let p = this.#compiled.get(principal);
    if (!p) {
      p = this.#deps.policy.compile(principal);
      this.#compiled.set(principal, p);
    }
    return p;
  }

  #refused(peer: CoapPeer, principal: string | null, type: string, detail: Record<string, unknown>): void {
    this.#limited.record(type, 'warning', peer.address, principal, { ...detail, port: peer.port });
  }
}
