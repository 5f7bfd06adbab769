/**
 * `/.well-known/core` (RFC 6690 §4): the resources this principal may use, in link format
 * (Content-Format 40). A resource whose `coap:get` the principal's policy denies is left out.
 */
import { Actions } from '../../core/policy/actions.ts';
import { Code, ContentFormat, Option } from './constants.ts';
import { uintOption } from './codec.ts';
import type { CoapResponse } from './endpoint.ts';
import type { CoapRequest, CoapResource, CoapRouter } from './router.ts';

export class WellKnownCore implements CoapResource {
  readonly #router: CoapRouter;

  constructor(router: CoapRouter) {
    this.#router = router;
  }

  handle(req: CoapRequest): Promise<CoapResponse> {
    if (req.method !== Code.GET) return Promise.resolve({ code: Code.METHOD_NOT_ALLOWED });
    const links: string[] = [];
    for (const r of this.#router.resources()) {
      if (r === this) continue;
      for (const link of r.links?.(req.ctx) ?? []) {
        const path = /^<([^>]*)>/.exec(link)?.[1] ?? '';
        const decision = req.ctx.policy.authorize(Actions.coapGet, path, { source: req.ctx.source });
        if (decision.allowed) links.push(link);
      }
    }
    return Promise.resolve({ code: Code.CONTENT, options: [{ number: Option.CONTENT_FORMAT, value: uintOption(ContentFormat.LINK_FORMAT) }], payload: Buffer.from(links.join(',')) });
  }
}
