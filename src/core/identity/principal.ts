/**
 * Who is talking (DESIGN.md §1). Protocol adapters produce a Principal through
 * identity.authenticate; everything after that decides on the Principal, never on what the
 * client claims about itself (its client id, a header).
 */
export type AuthMethod = 'certificate' | 'password' | 'anonymous';

export interface DevicePrincipal {
  kind: 'device';
  id: string;
  segment: string;
  authMethod: AuthMethod;
  attrs: Readonly<Record<string, string>>;
  /** Serial of the client certificate the session was authenticated with, if any. */
  certSerial: string | null;
  certCommonName: string | null;
}

export type Principal = DevicePrincipal;

export function principalKey(p: Principal): string {
  return `${p.kind}:${p.id}`;
}
