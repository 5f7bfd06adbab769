/**
 * Queues and device shadows over CoAP (issue 4, points 4 and 5), as router resources beside
 * `/ps` (router.ts). The same core services as MQTT and HTTPS decide and record everything;
 * `coap:<method>` on the path was decided by server.ts before a request gets here.
 *
 *   POST   /q/<name>                 push, 2.01 once stored; 5.03 when the queue is full
 *   GET    /q/<name>[?wait=<s>]      pull: 2.05 JSON { id, receipt, deliveries, payload (base64) }
 *                                    or 2.03 Valid with no payload when empty (a long wait is a
 *                                    separate response, RFC 7252 §5.2.2)
 *   POST   /q/<name>/ack             payload = receipt, 2.04; 4.04 when the lease is gone
 *   POST   /q/<name>/nack            payload = receipt, 2.04 (visible again now)
 *   GET    /shadow/<device>          2.05 JSON shadow (desired, reported, delta, version)
 *   POST   /shadow/<device>          JSON update, 2.04 with the accepted document; 4.12 on a stale version
 */
import type { QueueCaller, QueueService } from '../../core/queues/service.ts';
import type { ShadowService } from '../../core/shadows/service.ts';
import { optionValues, uintOption } from './codec.ts';
import { Code, Option } from './constants.ts';
import type { CoapResponse } from './endpoint.ts';
import type { CoapRequest, CoapResource } from './router.ts';

const JSON_FORMAT = [{ number: Option.CONTENT_FORMAT, value: uintOption(50) }];

function callerOf(req: CoapRequest): QueueCaller {
  return { principal: req.ctx.principal.id, source: req.ctx.source, policy: req.ctx.policy };
}

function json(code: number, body: unknown): CoapResponse {
  return { code, options: JSON_FORMAT, payload: Buffer.from(JSON.stringify(body)) };
}

function waitSeconds(req: CoapRequest): number {
  for (const q of optionValues(req.message, Option.URI_QUERY)) {
    const m = /^wait=(\d{1,3})$/.exec(q.toString('utf8'));
    if (m) return Number(m[1]);
  }
  return 0;
}

export class QueueResource implements CoapResource {
  readonly #queues: QueueService;

  constructor(queues: QueueService) {
    this.#queues = queues;
  }

  links(): string[] {
    return ['</q>;rt="palisade.queue"'];
  }

  async handle(req: CoapRequest): Promise<CoapResponse> {
    const [name, verb, ...extra] = req.rest;
    if (name === undefined || extra.length > 0) return { code: Code.NOT_FOUND };
    const caller = callerOf(req);
    if (verb === undefined && req.method === Code.POST) {
      await this.#queues.push(caller, name, req.message.payload);
      return { code: Code.CREATED };
    }
    if (verb === undefined && req.method === Code.GET) {
      const m = await this.#queues.pull(caller, name, { waitMs: this.#queues.maxWaitMs(waitSeconds(req)) });
      if (!m) return { code: Code.VALID };
      return json(Code.CONTENT, { id: m.id, receipt: m.receipt, deliveries: m.deliveries, visibleUntil: m.visibleAt, payload: m.payload.toString('base64') });
    }
    if ((verb === 'ack' || verb === 'nack') && req.method === Code.POST) {
      const receipt = req.message.payload.toString('utf8').trim();
      if (verb === 'ack') await this.#queues.ack(caller, name, receipt);
      else await this.#queues.nack(caller, name, receipt);
      return { code: Code.CHANGED };
    }
    return { code: verb === undefined || verb === 'ack' || verb === 'nack' ? Code.METHOD_NOT_ALLOWED : Code.NOT_FOUND };
  }
}

export class ShadowResource implements CoapResource {
  readonly #shadows: ShadowService;

  constructor(shadows: ShadowService) {
    this.#shadows = shadows;
  }

  links(): string[] {
    return ['</shadow>;rt="palisade.shadow";ct=50'];
  }

  async handle(req: CoapRequest): Promise<CoapResponse> {
    const [device, ...extra] = req.rest;
    if (device === undefined || extra.length > 0) return { code: Code.NOT_FOUND };
    const caller = callerOf(req);
    switch (req.method) {
      case Code.GET:
        return json(Code.CONTENT, await this.#shadows.get(caller, device));
      case Code.POST:
      case Code.PUT: {
        let body: unknown;
        try {
          body = JSON.parse(req.message.payload.toString('utf8')) as unknown;
        } catch {
          return { code: Code.BAD_REQUEST };
        }
        return json(Code.CHANGED, (await this.#shadows.update(caller, device, body)).accepted);
      }
      case Code.DELETE:
        return { code: (await this.#shadows.delete(caller, device)) ? Code.DELETED : Code.NOT_FOUND };
      default:
        return { code: Code.METHOD_NOT_ALLOWED };
    }
  }
}

/** What gateway.ts hands to the CoAP listeners: `router.add(prefix, resource)` for each. */
export function coapExchangeResources(x: { queues: QueueService; shadows: ShadowService }): Array<{ prefix: string[]; resource: CoapResource }> {
  return [
    { prefix: ['q'], resource: new QueueResource(x.queues) },
    { prefix: ['shadow'], resource: new ShadowResource(x.shadows) },
  ];
}
