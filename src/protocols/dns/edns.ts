/**
 * The OPT pseudo-record we put in answers (RFC 6891 §6.1.2) and its one option we send,
 * Extended DNS Error (RFC 8914), which tells a client a name was blocked by policy rather than
 * missing. Written straight into the answer buffer; nothing here allocates.
 */
import { TYPE_OPT } from './wire.ts';

/** Root owner (1) + TYPE, CLASS (2+2) + TTL (4) + RDLEN (2). */
export const OPT_LENGTH = 11;
/** EDE option: OPTION-CODE 15, OPTION-LENGTH 2, INFO-CODE; no EXTRA-TEXT (RFC 8914 §2). */
const EDE_OPTION_LENGTH = 6;
const OPTION_EDE = 15;

/** RFC 8914 §4.16 "Blocked": a block list matched. */
export const EDE_BLOCKED = 15;
/** RFC 8914 §4.18 "Filtered": the client's allow-only policy. */
export const EDE_FILTERED = 17;
export const EDE_NONE = -1;

export function optLength(ede: number): number {
  return ede < 0 ? OPT_LENGTH : OPT_LENGTH + EDE_OPTION_LENGTH;
}

/**
 * Writes our OPT at `off`; returns the offset past it. `extendedRcode` is the full RCODE (the
 * upper 8 bits go here, RFC 6891 §6.1.3); version 0; the DO bit echoes the query's (RFC 3225 §3).
 */
export function writeOpt(out: Uint8Array, off: number, udpSize: number, dnssecOk: boolean, extendedRcode: number, ede: number): number {
  out[off] = 0;
  out[off + 1] = TYPE_OPT >> 8;
  out[off + 2] = TYPE_OPT & 0xff;
  out[off + 3] = (udpSize >> 8) & 0xff;
  out[off + 4] = udpSize & 0xff;
  out[off + 5] = (extendedRcode >> 4) & 0xff;
  out[off + 6] = 0;
  out[off + 7] = dnssecOk ? 0x80 : 0;
  out[off + 8] = 0;
  if (ede < 0) {
    out[off + 9] = 0;
    out[off + 10] = 0;
    return off + OPT_LENGTH;
  }
  out[off + 9] = 0;
  out[off + 10] = EDE_OPTION_LENGTH;
  out[off + 11] = 0;
  out[off + 12] = OPTION_EDE;
  out[off + 13] = 0;
  out[off + 14] = 2;
  out[off + 15] = (ede >> 8) & 0xff;
  out[off + 16] = ede & 0xff;
  return off + OPT_LENGTH + EDE_OPTION_LENGTH;
}
