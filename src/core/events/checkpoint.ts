/**
 * Signed checkpoints of the event log (issue 3, point 9). The hash chain alone shows an edited,
 * inserted or deleted row, but anyone who can write the database can also re-hash everything
 * after a change, or cut the tail off: the formula is public. A checkpoint signs (last event id,
 * its hash, the number of events up to it) with an Ed25519 key whose private half is sealed
 * under the master key, so re-hashing or truncating what a checkpoint covers needs that key.
 *
 * Signed bytes (scheme "palisade-event-checkpoint-v1"):
 *   UTF-8 of "palisade-event-checkpoint-v1\n" + canonical({count, keyId, lastEventId, lastHash, ts})
 * with canonical() as in event-hash.ts (RFC 8785). Signature: Ed25519 (RFC 8032), base64.
 * The key id is the first 16 hex digits of SHA-256 over the public key's SPKI DER.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './event-hash.ts';

export const CHECKPOINT_SCHEME = 'palisade-event-checkpoint-v1';

export interface EventCheckpoint {
  /** Assigned by the store. */
  id: number;
  /** The newest event the checkpoint covers. */
  lastEventId: number;
  lastHash: string;
  /** Events with id <= lastEventId when it was signed. */
  count: number;
  ts: number;
  keyId: string;
  /** Ed25519 over checkpointPayload(), base64. */
  signature: string;
}

export type EventCheckpointInput = Omit<EventCheckpoint, 'id'>;
export type UnsignedCheckpoint = Omit<EventCheckpointInput, 'signature'>;

export interface EventSigner {
  readonly keyId: string;
  /** Base64 signature of `data`. */
  sign(data: Buffer): string;
}

export function checkpointPayload(cp: UnsignedCheckpoint): Buffer {
  const body = canonicalJson({ count: cp.count, keyId: cp.keyId, lastEventId: cp.lastEventId, lastHash: cp.lastHash, ts: cp.ts });
  return Buffer.from(`${CHECKPOINT_SCHEME}\n${body}`, 'utf8');
}

export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function ed25519Signer(privateKey: KeyObject): EventSigner {
  const keyId = keyIdOf(privateKey);
  return {
    keyId,
    // RFC 8032 Ed25519: node takes a null digest for it.
    sign: (data) => sign(null, data, privateKey).toString('base64'),
  };
}

export function signCheckpoint(signer: EventSigner, cp: Omit<UnsignedCheckpoint, 'keyId'>): EventCheckpointInput {
  const unsigned: UnsignedCheckpoint = { ...cp, keyId: signer.keyId };
  return { ...unsigned, signature: signer.sign(checkpointPayload(unsigned)) };
}

/** True when the checkpoint is signed by `publicKey` and its fields are as signed. */
export function checkpointSignatureValid(cp: EventCheckpointInput, publicKey: KeyObject): boolean {
  if (cp.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, checkpointPayload(cp), publicKey, Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}
