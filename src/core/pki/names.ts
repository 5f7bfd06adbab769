/**
 * Distinguished names and subject alternative names for the profile.
 *
 * Values are passed to @peculiar/x509 in its object form ({ printableString } / { utf8String })
 * rather than as strings, because its string form interprets quotes, backslashes and a leading
 * '#' — a segment name must be encoded literally, never parsed.
 */
import * as x509 from './x509.ts';
import { ErrorCodes, PalisadeError } from '../errors.ts';

type DnValue = x509.JsonAttributeObject;
type DnAttr = 'C' | 'O' | 'OU' | 'CN';

// RFC 5280 §4.1.2.4: new certificates use PrintableString or UTF8String; prefer PrintableString
// when the value fits its repertoire (X.680 §41.4), which maximises compatibility with old parsers.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function dnValue(value: string): DnValue {
  return PRINTABLE.test(value) ? { printableString: value } : { utf8String: value };
}

/**
 * Builds a Name from RDNs listed most-significant first (the DER order, e.g. O then OU then CN),
 * one attribute per RDN.
 */
export function buildName(rdns: ReadonlyArray<readonly [DnAttr, string]>): x509.Name {
  return new x509.Name(rdns.map(([type, value]) => ({ [type]: [dnValue(value)] })));
}

/**
 * Validates a free-text name attribute. RFC 5280 Appendix A bounds CN, O and OU at 64 characters;
 * control characters are refused because they corrupt logs and `openssl x509 -text` output.
 */
export function assertNameValue(what: string, value: string, max = 64): void {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length === 0 || value.length > max || /[\u0000-\u001f\u007f]/.test(value) || value.trim() !== value) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${what} must be 1-${max} printable characters without surrounding spaces`, {
      detail: { [what]: typeof value === 'string' ? value.slice(0, 80) : typeof value },
    });
  }
}

/** RFC 4514 §2.4 escaping of one attribute value. */
function escapeRfc4514(value: string): string {
  return value
    .replace(/[\\"+,;<>=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * RFC 4514 string form ("CN=dev, OU=lab, O=Palisade"): RDNs in reverse DER order, separated by
 * ", " for readability (RFC 4514 parsers accept the space).
 */
export function formatName(name: x509.Name): string {
  return name
    .toJSON()
    .slice()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        // Every value is escaped as a string, including a leading '#': @peculiar/x509's JSON form
        // renders non-string values as "#hex" too, and a literal "#abc" must never read as hex BER.
        .flatMap(([type, values]) => values.map((v) => `${type}=${escapeRfc4514(v)}`))
        .join('+'),
    )
    .join(', ');
}

export type HostName = { type: 'dns'; value: string } | { type: 'ip'; value: string };

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal to some resolvers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes.push(n);
  }
  return bytes;
}

function parseIpv6(text: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const toGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (i === parts.length - 1 && part.includes('.')) {
        // Embedded IPv4 in the last 32 bits (RFC 4291 §2.2 form 3).
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return null;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const head = toGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/**
 * Classifies a host for the server certificate's SAN (RFC 5280 §4.2.1.6): IP literals become
 * iPAddress entries (4 or 16 octets), everything else must be an LDH DNS name (optionally with a
 * leading "*." wildcard) and becomes a dNSName in lower case.
 */
export function parseHost(host: string): HostName {
  if (typeof host !== 'string') throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'host must be a string');
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const v4 = parseIpv4(bare);
  if (v4 !== null) return { type: 'ip', value: v4.join('.') };
  if (bare.includes(':')) {
    const v6 = parseIpv6(bare);
    if (v6 === null) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'invalid IPv6 literal', { detail: { host } });
    // Fully expanded text is the one form @peculiar/x509's IP converter parses unambiguously.
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((v6[i] ?? 0) << 8) | (v6[i + 1] ?? 0)).toString(16));
    return { type: 'ip', value: groups.join(':') };
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  const wildcardOk = labels.length >= 3 && labels[0] === '*';
  const checked = wildcardOk ? labels.slice(1) : labels;
  if (name.length === 0 || name.length > 253 || !checked.every((l) => DNS_LABEL.test(l))) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'host must be a DNS name or an IP literal', { detail: { host } });
  }
  return { type: 'dns', value: name };
}
