/**
 * Device identity as carried in certificates. The authoritative identity is the SAN URI
 * `urn:palisade:device:<id>` (RFC 5280 §4.2.1.6 prefers subjectAltName over the subject CN for
 * identities); the CN mirrors it for operators reading `openssl x509 -text`.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';

/** Device ids end up in MQTT topics and URIs, so no '/', '+', '#', ':', whitespace or leading punctuation. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const DEVICE_URN_PREFIX = 'urn:palisade:device:';

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}

export function assertDeviceId(id: string): void {
  if (typeof id !== 'string' || !DEVICE_ID_PATTERN.test(id)) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'device id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', {
      detail: { deviceId: typeof id === 'string' ? id.slice(0, 140) : typeof id },
    });
  }
}

export function deviceUri(deviceId: string): string {
  assertDeviceId(deviceId);
  return `${DEVICE_URN_PREFIX}${deviceId}`;
}

// Node prints an alt name whose value contains ',', '"', '\\', '\'' or a control character as a
// JSON string (CVE-2021-44532 fix). This is the same pattern Node's own lib/tls.js uses to undo it.
// eslint-disable-next-line no-control-regex
const JSON_STRING = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;

/**
 * Splits Node's `subjectaltname` string ("DNS:a, URI:\"x,y\"") into entries with quoted values
 * decoded. Mirrors splitEscapedAltNames in Node's lib/tls.js so a crafted DNS name such as
 * `a, URI:urn:palisade:device:admin` (which Node quotes) can never be read as a separate entry.
 * Returns null when the string is not in Node's format.
 */
export function splitNodeAltNames(altNames: string): string[] | null {
  const result: string[] = [];
  let current = '';
  let offset = 0;
  while (offset < altNames.length) {
    const nextSep = altNames.indexOf(',', offset);
    const nextQuote = altNames.indexOf('"', offset);
    if (nextQuote !== -1 && (nextSep === -1 || nextQuote < nextSep)) {
      current += altNames.slice(offset, nextQuote);
      const match = JSON_STRING.exec(altNames.slice(nextQuote));
      if (match === null) return null;
      current += JSON.parse(match[0]) as string;
      offset = nextQuote + match[0].length;
    } else if (nextSep !== -1) {
      current += altNames.slice(offset, nextSep);
      result.push(current);
      current = '';
      // Node joins entries with ", "; anything else means this is not Node's format.
      if (altNames[nextSep + 1] !== ' ') return null;
      offset = nextSep + 2;
    } else {
      current += altNames.slice(offset);
      offset = altNames.length;
    }
  }
  result.push(current);
  return result;
}

/**
 * The device id named by a peer certificate, from Node's `PeerCertificate.subjectaltname`.
 * Returns null when there is no Palisade device URI, when the id inside it is not a valid device
 * id, when the string is malformed, or when the certificate names two different devices:
 * ambiguity is treated as "no identity" rather than picking one.
 */
export function deviceIdFromSan(subjectAltName: string | undefined): string | null {
  if (subjectAltName === undefined || subjectAltName === '') return null;
  const entries = splitNodeAltNames(subjectAltName);
  if (entries === null) return null;
  let found: string | null = null;
  for (const entry of entries) {
    if (!entry.startsWith('URI:')) continue;
    const uri = entry.slice('URI:'.length);
    if (!uri.startsWith(DEVICE_URN_PREFIX)) continue;
    const id = uri.slice(DEVICE_URN_PREFIX.length);
    if (!DEVICE_ID_PATTERN.test(id)) return null;
    if (found !== null && found !== id) return null;
    found = id;
  }
  return found;
}
