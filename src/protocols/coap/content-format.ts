/**
 * CoAP Content-Format numbers (RFC 7252 §12.3) to and from the MQTT 5 content type a message
 * carries, so a JSON message published over MQTT is served as 50 over CoAP and back.
 */
import type { MessageProperties } from '../../core/ports.ts';
import { Option } from './constants.ts';
import { uintOption, type CoapOption } from './codec.ts';

const BY_NUMBER: ReadonlyMap<number, string> = new Map([
  [0, 'text/plain; charset=utf-8'],
  [40, 'application/link-format'],
  [41, 'application/xml'],
  [42, 'application/octet-stream'],
  [50, 'application/json'],
  [60, 'application/cbor'],
]);

export function propertiesFor(contentFormat: number | undefined): MessageProperties {
  if (contentFormat === undefined) return {};
  const type = BY_NUMBER.get(contentFormat);
  return type === undefined ? {} : { contentType: type };
}

const NONE: CoapOption[] = [];
/** Per content type string; bounded, content types are few. */
const CACHE = new Map<string, CoapOption[]>();

export function contentFormatOption(props: MessageProperties): CoapOption[] {
  const raw = props.contentType;
  if (raw === undefined) return NONE;
  const hit = CACHE.get(raw);
  if (hit) return hit;
  const type = raw.split(';')[0]?.trim().toLowerCase();
  let out = NONE;
  for (const [n, t] of BY_NUMBER) {
    if (t.split(';')[0] === type) out = [{ number: Option.CONTENT_FORMAT, value: uintOption(n) }];
  }
  if (CACHE.size < 256) CACHE.set(raw, out);
  return out;
}
