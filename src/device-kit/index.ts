/**
 * Palisade device kit: what a device application needs to talk to a Palisade gateway that
 * protects topics against replay (issue 5, point 5). Standalone: imports no gateway code, so
 * the directory can be copied onto a device running plain Node.
 */
export { CounterWindow, type CounterCheck } from './counter-window.ts';
export { CommandVerifier, ReplayStamper, nonceStamp, type CommandCheck, type StamperOptions, type VerifierOptions } from './replay.ts';
export {
  CTR_PROPERTY,
  NONCE_PROPERTY,
  TS_PROPERTY,
  encodeEnvelope,
  readEnvelope,
  readStamp,
  readStampProperties,
  stampProperties,
  type JsonValue,
  type ReplayStamp,
  type StampReading,
} from './wire.ts';
