/**
 * Resources by path prefix. Each resource answers every request under its prefix and says
 * which links it offers for /.well-known/core. Queues (`q`) and shadows (`shadow`) register
 * here too: `router.add(['q'], queueResource)`.
 */
import type { DeviceContext } from '../../core/messaging/device-messaging.ts';
import type { CoapMessage } from './codec.ts';
import type { CoapPeer, CoapResponse } from './endpoint.ts';

export interface CoapRequest {
  peer: CoapPeer;
  message: CoapMessage;
  method: number;
  /** Uri-Path segments after the resource's prefix. */
  rest: string[];
  /** The whole request path, `/ps/a/b`: the resource of `coap:<method>`. */
  path: string;
  ctx: DeviceContext;
}

export interface CoapResource {
  handle(req: CoapRequest): Promise<CoapResponse>;
  /** RFC 6690 links this principal may use, e.g. `</ps>;rt="palisade.ps";obs`. */
  links?(ctx: DeviceContext): string[];
}

export class CoapRouter {
  readonly #routes: Array<{ prefix: string[]; resource: CoapResource }> = [];

  add(prefix: string[], resource: CoapResource): void {
    this.#routes.push({ prefix, resource });
    // Longest prefix first.
    this.#routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(path: readonly string[]): { resource: CoapResource; rest: string[] } | null {
    for (const r of this.#routes) {
      if (r.prefix.length > path.length) continue;
      if (r.prefix.every((seg, i) => path[i] === seg)) return { resource: r.resource, rest: path.slice(r.prefix.length) };
    }
    return null;
  }

  resources(): CoapResource[] {
    return this.#routes.map((r) => r.resource);
  }
}
