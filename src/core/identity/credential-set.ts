/**
 * Setting a device's password or token (issue 3, point 3), shared by the CLI and (later) the
 * admin API: the checks of credential-checks.ts, then a refusal of a credential another device
 * already has (unless allowShared), then the scrypt hash and the keyed fingerprint are stored
 * together. Every outcome is a security event; no event and no error carries the secret.
 *
 * Shared credentials are refused by default: the requirement is one credential per device, so
 * that one device's leaked or extracted password opens that device only. allowShared exists for
 * a migration from a fleet that already shares one; the share is then recorded as a
 * `credential.shared` warning and shows in `palisade device audit` until it is fixed.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import type { Store } from '../ports.ts';
import { credentialRefused, type CredentialChecker } from './credential-checks.ts';
import { credentialFingerprint } from './credential-fingerprint.ts';
import { generatePassword, hashPassword } from './password.ts';

export interface CredentialServices {
  checker: CredentialChecker;
  /** The 32-byte key of credential fingerprints. */
  fingerprintKey: Buffer;
  events: Pick<EventLog, 'record'>;
}

export interface SetCredentialRequest {
  deviceId: string;
  secret: string;
  /** Accept a credential another device has; it is reported instead. */
  allowShared?: boolean;
  /** Who asked (an operator id, `cli`), for the event log. */
  actor?: string | null;
  /** Where the request came from ("ip:port"), for the event log. */
  source?: string | null;
}

export interface SetCredentialResult {
  /** Other devices that hold the same credential (only with allowShared). */
  sharedWith: string[];
}

export async function setDeviceCredential(store: Store, services: CredentialServices, req: SetCredentialRequest): Promise<SetCredentialResult> {
  const device = await store.devices.get(req.deviceId);
  if (!device) throw new PalisadeError(ErrorCodes.NOT_FOUND, `device ${req.deviceId} not found`, { detail: { id: req.deviceId } });
  const refuse = (err: PalisadeError): PalisadeError => {
    services.events.record('credential.refused', 'warning', { principal: device.id, source: req.source ?? null, detail: { actor: req.actor ?? null, ...err.detail } });
    return err;
  };

  const problem = services.checker.check({ username: device.id, secret: req.secret });
  if (problem) throw refuse(credentialRefused(problem));

  const fingerprint = credentialFingerprint(services.fingerprintKey, req.secret);
  const sharedWith = (await store.devices.listByCredentialFingerprint(fingerprint)).map((d) => d.id).filter((id) => id !== device.id);
  if (sharedWith.length > 0 && req.allowShared !== true) {
    throw refuse(new PalisadeError(ErrorCodes.CREDENTIAL_REFUSED, `password refused: another device (${sharedWith.join(', ')}) already has it; each device needs its own (--allow-shared to accept and report it)`, { detail: { reason: 'shared', devices: [device.id, ...sharedWith] } }));
  }

  await store.devices.update(device.id, { passwordHash: await hashPassword(req.secret), credentialFingerprint: fingerprint });
  services.events.record('credential.set', 'info', { principal: device.id, source: req.source ?? null, detail: { actor: req.actor ?? null, replaced: device.passwordHash !== null } });
  if (sharedWith.length > 0) {
    services.events.record('credential.shared', 'warning', { principal: device.id, source: req.source ?? null, detail: { actor: req.actor ?? null, devices: [device.id, ...sharedWith] } });
  }
  return { sharedWith };
}

/**
 * A new random credential for the device that passes every check (24 random bytes, 192 bits,
 * base64url). A draw that happens to contain a short device id is drawn again.
 */
export function generateDeviceCredential(checker: CredentialChecker, deviceId: string): string {
  for (let i = 0; i < 16; i++) {
    const secret = generatePassword();
    if (!checker.check({ username: deviceId, secret })) return secret;
  }
  throw new PalisadeError(ErrorCodes.CREDENTIAL_REFUSED, 'could not generate a credential that passes the checks');
}

/** Generates a credential, sets it (all checks apply) and returns it, to be shown once. */
export async function setGeneratedDeviceCredential(store: Store, services: CredentialServices, req: Omit<SetCredentialRequest, 'secret' | 'allowShared'>): Promise<string> {
  const secret = generateDeviceCredential(services.checker, req.deviceId);
  await setDeviceCredential(store, services, { ...req, secret });
  return secret;
}
