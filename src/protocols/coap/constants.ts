/**
 * CoAP numbers: message types, codes, option numbers and content formats (RFC 7252 §3, §5.10,
 * §12; RFC 7641; RFC 7959; RFC 9175) and the transmission parameters of RFC 7252 §4.8.
 *
 * Why our own CoAP and not node-coap: node-coap keys Block1 reassembly on the token, but
 * RFC 7959 §2.4 lets a client use a new token for every block, and libcoap does; a blockwise
 * PUT from libcoap's coap-client then fails against it. Palisade reassembles per
 * (peer, path, Request-Tag) instead (RFC 9175 §3).
 */
export const MessageType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** A code as class*32+detail, written c.dd in the RFCs. */
export function code(cls: number, detail: number): number {
  return (cls << 5) | detail;
}

export function codeString(c: number): string {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, '0')}`;
}

export const Code = {
  EMPTY: 0,
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  CREATED: code(2, 1),
  DELETED: code(2, 2),
  VALID: code(2, 3),
  CHANGED: code(2, 4),
  CONTENT: code(2, 5),
  CONTINUE: code(2, 31),
  BAD_REQUEST: code(4, 0),
  UNAUTHORIZED: code(4, 1),
  BAD_OPTION: code(4, 2),
  FORBIDDEN: code(4, 3),
  NOT_FOUND: code(4, 4),
  METHOD_NOT_ALLOWED: code(4, 5),
  NOT_ACCEPTABLE: code(4, 6),
  REQUEST_ENTITY_INCOMPLETE: code(4, 8),
  PRECONDITION_FAILED: code(4, 12),
  REQUEST_ENTITY_TOO_LARGE: code(4, 13),
  UNSUPPORTED_CONTENT_FORMAT: code(4, 15),
  TOO_MANY_REQUESTS: code(4, 29),
  INTERNAL_SERVER_ERROR: code(5, 0),
  NOT_IMPLEMENTED: code(5, 1),
  SERVICE_UNAVAILABLE: code(5, 3),
  PROXYING_NOT_SUPPORTED: code(5, 5),
} as const;

export const Option = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  REQUEST_TAG: 292,
} as const;

/** Options this server understands; an unknown critical (odd) option in a request is 4.02 (RFC 7252 §5.4.1). */
export const KNOWN_OPTIONS: ReadonlySet<number> = new Set(Object.values(Option));

export function isCritical(option: number): boolean {
  return (option & 1) === 1;
}

export const ContentFormat = { TEXT: 0, LINK_FORMAT: 40, OCTET_STREAM: 42, JSON: 50, CBOR: 60 } as const;

/** RFC 7252 §4.8 defaults and the derived times of §4.8.2, in milliseconds. */
export const Transmission = {
  ACK_TIMEOUT: 2000,
  ACK_RANDOM_FACTOR: 1.5,
  MAX_RETRANSMIT: 4,
  NSTART: 1,
  /** MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY = 247 s. */
  EXCHANGE_LIFETIME: 247_000,
  /** MAX_TRANSMIT_SPAN + MAX_LATENCY = 145 s. */
  NON_LIFETIME: 145_000,
} as const;

export const MAX_TOKEN_LENGTH = 8;
