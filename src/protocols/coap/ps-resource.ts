/**
 * `/ps/<topic...>`: publish-subscribe over CoAP, the topic levels being the Uri-Path segments
 * after `ps` (the layout of draft-ietf-core-coap-pubsub, simplified to one broker).
 *   GET            the retained message (2.05 with Content-Format), 4.04 when none
 *   GET Observe=0  subscribe: each message a notification (observe.ts); `+`/`#` allowed here only
 *   GET Observe=1  end the observation, then a plain GET
 *   POST           publish (2.04 Changed once stored: QoS 1 semantics)
 *   PUT            publish retained (2.04)
 *   DELETE         clear the retained message (2.02)
 * Authorisation is the facade's (mqtt:publish / mqtt:subscribe / mqtt:receive on the topic);
 * `coap:<method>` on the path was decided before this resource is reached (server.ts).
 */
import type { DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import { Code, Option } from './constants.ts';
import { firstOption, uintOf } from './codec.ts';
import { contentFormatOption, propertiesFor } from './content-format.ts';
import type { CoapResponse } from './endpoint.ts';
import type { Observations } from './observe.ts';
import type { CoapRequest, CoapResource } from './router.ts';

export class PubSubResource implements CoapResource {
  readonly #messaging: DeviceMessaging;
  readonly #observations: Observations;

  constructor(messaging: DeviceMessaging, observations: Observations) {
    this.#messaging = messaging;
    this.#observations = observations;
  }

  links(): string[] {
    return ['</ps>;rt="core.ps";ct="0 42 50";obs'];
  }

  async handle(req: CoapRequest): Promise<CoapResponse> {
    const topic = req.rest.join('/');
    if (topic.length === 0) return { code: Code.NOT_FOUND };
    const m = req.message;
    const observe = firstOption(m, Option.OBSERVE) === undefined ? undefined : uintOf(m, Option.OBSERVE);
    const wildcard = req.rest.some((s) => s === '+' || s === '#');
    switch (req.method) {
      case Code.GET: {
        if (observe === 0) {
          return this.#observations.register(req.ctx, req.peer, m.token, m.type === 0, topic, req.path);
        }
        if (observe === 1) this.#observations.cancel(req.peer.key, m.token);
        if (wildcard) return { code: Code.BAD_REQUEST };
        const r = this.#messaging.readRetained(req.ctx, topic);
        if (r === null) return { code: Code.NOT_FOUND };
        return { code: Code.CONTENT, options: contentFormatOption(r.properties), payload: r.payload };
      }
      case Code.POST:
      case Code.PUT: {
        if (wildcard) return { code: Code.BAD_REQUEST };
        const retain = req.method === Code.PUT;
        // An empty PUT would delete the retained message (MQTT semantics); DELETE says that plainly.
        if (retain && m.payload.length === 0) return { code: Code.BAD_REQUEST };
        await this.#messaging.publish(req.ctx, topic, m.payload, { qos: 1, retain, properties: propertiesFor(uintOf(m, Option.CONTENT_FORMAT)) });
        return { code: Code.CHANGED };
      }
      case Code.DELETE: {
        if (wildcard) return { code: Code.BAD_REQUEST };
        await this.#messaging.publish(req.ctx, topic, Buffer.alloc(0), { qos: 1, retain: true });
        return { code: Code.DELETED };
      }
      default:
        return { code: Code.METHOD_NOT_ALLOWED };
    }
  }
}
