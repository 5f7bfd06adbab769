/**
 * Errors at the HTTP edge (DESIGN.md §1): a PalisadeError's stable code maps to an HTTP status
 * here and only here. Every error leaves as JSON `{ error, code }`; a 5xx says "internal error"
 * and nothing else, so no stack trace, SQL text or file path reaches a client.
 */
import { ErrorCodes, isPalisadeError, type ErrorCode } from '../../core/errors.ts';

export interface HttpErrorBody {
  error: string;
  code: string;
}

export interface HttpError {
  status: number;
  body: HttpErrorBody;
  /** Seconds, for 429 (RFC 9110 §10.2.3). */
  retryAfter?: number;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.INVALID_ARGUMENT]: 400,
  [ErrorCodes.CREDENTIAL_REFUSED]: 400,
  [ErrorCodes.TOPIC_INVALID]: 400,
  [ErrorCodes.FILTER_INVALID]: 400,
  [ErrorCodes.PROTOCOL_ERROR]: 400,
  [ErrorCodes.AUTH_FAILED]: 401,
  [ErrorCodes.AUTH_NO_CREDENTIALS]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.POLICY_DENIED]: 403,
  [ErrorCodes.MFA_REQUIRED]: 403,
  [ErrorCodes.AUTH_DEVICE_DISABLED]: 403,
  [ErrorCodes.CERT_REVOKED]: 403,
  [ErrorCodes.AUTH_CLIENT_ID_MISMATCH]: 403,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.ALREADY_EXISTS]: 409,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.PACKET_TOO_LARGE]: 413,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.QUOTA_EXCEEDED]: 429,
  [ErrorCodes.ADMISSION_REFUSED]: 429,
  [ErrorCodes.VERSION_CONFLICT]: 409,
  [ErrorCodes.DEVICE_OFFLINE]: 409,
  // A full queue is the service being unable to take more now, not the client sending too fast.
  [ErrorCodes.QUEUE_FULL]: 503,
  [ErrorCodes.TIMEOUT]: 504,
  [ErrorCodes.PAYLOAD_BLOCKED]: 403,
  [ErrorCodes.PAYLOAD_INVALID]: 400,
  [ErrorCodes.REPLAYED]: 409,
};

/** Fastify's own 4xx errors by status, given a Palisade code so clients see one catalogue. */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  401: ErrorCodes.AUTH_FAILED,
  403: ErrorCodes.FORBIDDEN,
  404: ErrorCodes.NOT_FOUND,
  409: ErrorCodes.ALREADY_EXISTS,
  413: ErrorCodes.BODY_TOO_LARGE,
  429: ErrorCodes.RATE_LIMITED,
};

const INTERNAL: HttpError = { status: 500, body: { error: 'internal error', code: ErrorCodes.INTERNAL } };

function statusOf(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && Number.isInteger(s) ? s : null;
}

export function toHttpError(err: unknown): HttpError {
  if (isPalisadeError(err)) {
    const status = STATUS[err.code] ?? 500;
    // Only deliberate 503/504 answers keep their message; any other 5xx says "internal error".
    if (status >= 500 && status !== 503 && status !== 504) return INTERNAL;
    const out: HttpError = { status, body: { error: err.message, code: err.code } };
    const retry = err.detail?.retryAfterMs;
    if ((status === 429 || status === 503) && typeof retry === 'number') out.retryAfter = Math.max(1, Math.ceil(retry / 1000));
    return out;
  }
  // Fastify's errors (validation, content type, body size, bad JSON) carry a 4xx statusCode.
  const status = statusOf(err);
  if (status !== null && status >= 400 && status < 500) {
    const message = err instanceof Error ? err.message : 'bad request';
    return { status, body: { error: message, code: CODE_BY_STATUS[status] ?? ErrorCodes.INVALID_ARGUMENT } };
  }
  return INTERNAL;
}
