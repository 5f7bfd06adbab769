/**
 * One error hierarchy for the whole gateway (DESIGN.md §1, convention 2). Core throws
 * PalisadeError with a stable `code`; protocol edges map codes to MQTT reason codes, HTTP
 * statuses, CoAP codes or DNS RCODEs. The message is for operators' logs and never reaches a
 * device; tests assert on `code`.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'PAL_ERR_CONFIG_INVALID',
  STORE_FAILURE: 'PAL_ERR_STORE_FAILURE',
  NOT_FOUND: 'PAL_ERR_NOT_FOUND',
  ALREADY_EXISTS: 'PAL_ERR_ALREADY_EXISTS',
  INVALID_ARGUMENT: 'PAL_ERR_INVALID_ARGUMENT',
  AUTH_FAILED: 'PAL_ERR_AUTH_FAILED',
  AUTH_NO_CREDENTIALS: 'PAL_ERR_AUTH_NO_CREDENTIALS',
  AUTH_CLIENT_ID_MISMATCH: 'PAL_ERR_AUTH_CLIENT_ID_MISMATCH',
  AUTH_DEVICE_DISABLED: 'PAL_ERR_AUTH_DEVICE_DISABLED',
  CERT_REVOKED: 'PAL_ERR_CERT_REVOKED',
  POLICY_DENIED: 'PAL_ERR_POLICY_DENIED',
  ADMISSION_REFUSED: 'PAL_ERR_ADMISSION_REFUSED',
  TOPIC_INVALID: 'PAL_ERR_TOPIC_INVALID',
  FILTER_INVALID: 'PAL_ERR_FILTER_INVALID',
  QUOTA_EXCEEDED: 'PAL_ERR_QUOTA_EXCEEDED',
  PROTOCOL_ERROR: 'PAL_ERR_PROTOCOL_ERROR',
  PACKET_TOO_LARGE: 'PAL_ERR_PACKET_TOO_LARGE',
  PKI_FAILURE: 'PAL_ERR_PKI_FAILURE',
  ENROLLMENT_REFUSED: 'PAL_ERR_ENROLLMENT_REFUSED',
  REENROLL_TOO_EARLY: 'PAL_ERR_REENROLL_TOO_EARLY',
  FORBIDDEN: 'PAL_ERR_FORBIDDEN',
  MFA_REQUIRED: 'PAL_ERR_MFA_REQUIRED',
  RATE_LIMITED: 'PAL_ERR_RATE_LIMITED',
  BODY_TOO_LARGE: 'PAL_ERR_BODY_TOO_LARGE',
  INTERNAL: 'PAL_ERR_INTERNAL',
  CREDENTIAL_REFUSED: 'PAL_ERR_CREDENTIAL_REFUSED',
  EVENT_LOG_INVALID: 'PAL_ERR_EVENT_LOG_INVALID',
  QUEUE_FULL: 'PAL_ERR_QUEUE_FULL',
  VERSION_CONFLICT: 'PAL_ERR_VERSION_CONFLICT',
  TIMEOUT: 'PAL_ERR_TIMEOUT',
  DEVICE_OFFLINE: 'PAL_ERR_DEVICE_OFFLINE',
  /** The WAF blocked a request or payload (shield). */
  PAYLOAD_BLOCKED: 'PAL_ERR_PAYLOAD_BLOCKED',
  /** A payload failed its topic's schema or size rule (shield). */
  PAYLOAD_INVALID: 'PAL_ERR_PAYLOAD_INVALID',
  /** A replay-protected message was seen before or is stale (shield). */
  REPLAYED: 'PAL_ERR_REPLAYED',
  /** Every DNS upstream failed or timed out (DNS firewall). */
  UPSTREAM_FAILED: 'PAL_ERR_UPSTREAM_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class PalisadeError extends Error {
  readonly code: ErrorCode;
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PalisadeError';
    this.code = code;
    this.detail = options?.detail;
  }
}

export function isPalisadeError(err: unknown, code?: ErrorCode): err is PalisadeError {
  return err instanceof PalisadeError && (code === undefined || err.code === code);
}
