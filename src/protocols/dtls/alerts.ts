/** Alert protocol (RFC 5246 §7.2) values this server sends or reads. */
export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  illegal_parameter: 47,
  unknown_ca: 48,
  decode_error: 50,
  decrypt_error: 51,
  insufficient_security: 71,
  internal_error: 80,
  no_renegotiation: 100,
  unknown_psk_identity: 115,
} as const;

export type AlertName = keyof typeof AlertDescription;

export function encodeAlert(level: number, name: AlertName): Buffer {
  return Buffer.from([level, AlertDescription[name]]);
}
