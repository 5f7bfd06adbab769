/**
 * PalisadeError codes mapped to CoAP response codes at the edge (DESIGN.md §1, issue 4
 * contracts): 4.01 unauthenticated, 4.03 not authorised, 4.13 too large, 4.29 rate limited,
 * 5.03 full. The error's message never reaches the device.
 */
import { ErrorCodes, isPalisadeError } from '../../core/errors.ts';
import { Code } from './constants.ts';

const MAP: Partial<Record<string, number>> = {
  [ErrorCodes.AUTH_FAILED]: Code.UNAUTHORIZED,
  [ErrorCodes.AUTH_NO_CREDENTIALS]: Code.UNAUTHORIZED,
  [ErrorCodes.AUTH_DEVICE_DISABLED]: Code.UNAUTHORIZED,
  [ErrorCodes.CERT_REVOKED]: Code.UNAUTHORIZED,
  [ErrorCodes.POLICY_DENIED]: Code.FORBIDDEN,
  [ErrorCodes.FORBIDDEN]: Code.FORBIDDEN,
  [ErrorCodes.NOT_FOUND]: Code.NOT_FOUND,
  [ErrorCodes.TOPIC_INVALID]: Code.BAD_REQUEST,
  [ErrorCodes.FILTER_INVALID]: Code.BAD_REQUEST,
  [ErrorCodes.INVALID_ARGUMENT]: Code.BAD_REQUEST,
  [ErrorCodes.PROTOCOL_ERROR]: Code.BAD_REQUEST,
  [ErrorCodes.PACKET_TOO_LARGE]: Code.REQUEST_ENTITY_TOO_LARGE,
  [ErrorCodes.BODY_TOO_LARGE]: Code.REQUEST_ENTITY_TOO_LARGE,
  [ErrorCodes.RATE_LIMITED]: Code.TOO_MANY_REQUESTS,
  [ErrorCodes.QUOTA_EXCEEDED]: Code.SERVICE_UNAVAILABLE,
  [ErrorCodes.ADMISSION_REFUSED]: Code.SERVICE_UNAVAILABLE,
  [ErrorCodes.QUEUE_FULL]: Code.SERVICE_UNAVAILABLE,
  // RFC 7252 has no 4.09; a stale shadow version is a failed precondition.
  [ErrorCodes.VERSION_CONFLICT]: Code.PRECONDITION_FAILED,
  [ErrorCodes.PAYLOAD_BLOCKED]: Code.FORBIDDEN,
  [ErrorCodes.PAYLOAD_INVALID]: Code.BAD_REQUEST,
  [ErrorCodes.REPLAYED]: Code.BAD_REQUEST,
};

/** The CoAP code for an error thrown by core; anything unknown is 5.00. */
export function coapCodeFor(err: unknown): number {
  if (!isPalisadeError(err)) return Code.INTERNAL_SERVER_ERROR;
  return MAP[err.code] ?? Code.INTERNAL_SERVER_ERROR;
}
