/**
 * Canonical domain names for the block and allow lists (issue 6): lower case ASCII, punycode
 * (`xn--…`) kept as written, Unicode names converted to punycode (UTS #46 via node:url), trailing
 * dots stripped. The DNS server hands the filter names in the same form (core/dns/types.ts).
 *
 * Lists are read permissively: a label may hold letters, digits, `-` and `_` (lists carry
 * `_dmarc`-style and hyphen-edged names that real zones do serve), so only what can never be a
 * DNS name is refused — RFC 1035 §2.3.4: labels of 1–63 octets, names of at most 253 characters
 * in text form (255 octets on the wire).
 */
import { domainToASCII } from 'node:url';

export const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/** Letters, digits, `-`, `_` and dots; anything else needs the slow path or is refused. */
const ASCII_NAME = /^[a-z0-9_.-]+$/;

/**
 * The canonical form of `raw`, or a one-line reason it is not a domain name. Never throws.
 * `raw` must already be trimmed; case and trailing dots are handled here.
 */
export function canonicalName(raw: string): string | { error: string } {
  let name = raw.toLowerCase();
  while (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) return { error: 'empty name' };
  if (!ASCII_NAME.test(name)) {
    // A Unicode (IDN) name: the ASCII form the resolver will be asked for. Anything else
    // (spaces, slashes, `:`) is not a name.
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(name)) return { error: `not a domain name: ${clip(raw)}` };
    const ascii = domainToASCII(name);
    if (ascii === '' || !ASCII_NAME.test(ascii)) return { error: `not a valid internationalised name: ${clip(raw)}` };
    name = ascii;
  }
  if (name.length > MAX_NAME_LENGTH) return { error: `name longer than ${MAX_NAME_LENGTH} characters` };
  let start = 0;
  for (;;) {
    const dot = name.indexOf('.', start);
    const end = dot === -1 ? name.length : dot;
    const len = end - start;
    if (len === 0) return { error: `empty label in ${clip(raw)}` };
    if (len > MAX_LABEL_LENGTH) return { error: `label longer than ${MAX_LABEL_LENGTH} characters in ${clip(raw)}` };
    if (dot === -1) break;
    start = dot + 1;
  }
  return name;
}

/** Keeps error messages one short line whatever junk a list holds. */
export function clip(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max)}…`;
}
