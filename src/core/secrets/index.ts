/** Secrets at rest: envelope encryption under a rotating master key (issue 3, point 8). */
export { Keyring, KEY_ID_PATTERN, MASTER_KEY_BYTES, bareKeyId, decodeKeyBase64, generateMasterKey, masterKey, type MasterKey } from './keyring.ts';
export { SecretBox, type KeyringSource } from './secret-box.ts';
export { SEALED_PREFIX, formatSealed, isSealed, parseSealed, sealedKeyId, type SealedParts } from './sealed-format.ts';
export { countKeyReferences, rewrapLocation, type RewrapReport, type SealedRecordEntry, type SealedRecordLocation } from './locations.ts';
