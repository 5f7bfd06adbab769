import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../errors.ts';
import { assertDeviceId, deviceIdFromSan, deviceUri, isValidDeviceId, splitNodeAltNames } from './identity.ts';
import { webcrypto } from './keys.ts';
import * as x509 from './x509.ts';

describe('deviceIdFromSan (Node subjectaltname format)', () => {
  it('extracts the id from a single URI entry', () => {
    expect(deviceIdFromSan('URI:urn:palisade:device:thermostat-17')).toBe('thermostat-17');
  });

  it('finds the URI among several entries in any position', () => {
    expect(deviceIdFromSan('URI:urn:palisade:device:thermostat-17, DNS:x')).toBe('thermostat-17');
    expect(deviceIdFromSan('DNS:a.example, IP Address:10.0.0.1, URI:urn:palisade:device:cam_2.b')).toBe('cam_2.b');
    expect(deviceIdFromSan('URI:https://example.com/x, URI:urn:palisade:device:d1, email:a@b.c')).toBe('d1');
  });

  it('returns null when absent or empty', () => {
    expect(deviceIdFromSan(undefined)).toBeNull();
    expect(deviceIdFromSan('')).toBeNull();
    expect(deviceIdFromSan('DNS:localhost, IP Address:127.0.0.1')).toBeNull();
    expect(deviceIdFromSan('URI:urn:other:device:x')).toBeNull();
    expect(deviceIdFromSan('DNS:urn:palisade:device:x')).toBeNull();
  });

  it('decodes JSON-quoted values and never splits inside them', () => {
    // A DNS name smuggling a second entry: Node quotes it because of the comma.
    expect(deviceIdFromSan('DNS:"evil, URI:urn:palisade:device:admin"')).toBeNull();
    expect(deviceIdFromSan('DNS:"evil, URI:urn:palisade:device:admin", URI:urn:palisade:device:cam-1')).toBe('cam-1');
    // A quoted URI whose id is not a valid device id is refused rather than truncated.
    expect(deviceIdFromSan('URI:"urn:palisade:device:a,b"')).toBeNull();
    expect(deviceIdFromSan('URI:"urn:palisade:device:a\\"b"')).toBeNull();
  });

  it('refuses ambiguity and malformed input', () => {
    expect(deviceIdFromSan('URI:urn:palisade:device:a, URI:urn:palisade:device:b')).toBeNull();
    expect(deviceIdFromSan('URI:urn:palisade:device:a, URI:urn:palisade:device:a')).toBe('a');
    expect(deviceIdFromSan('URI:urn:palisade:device:')).toBeNull();
    expect(deviceIdFromSan('URI:urn:palisade:device:a/b')).toBeNull();
    expect(deviceIdFromSan('DNS:"unterminated, URI:urn:palisade:device:a')).toBeNull();
    expect(deviceIdFromSan('URI:urn:palisade:device:a,URI:urn:palisade:device:b')).toBeNull();
  });

  it('reads what Node itself prints for a certificate with hostile SAN values', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        name: 'CN=t',
        keys,
        extensions: [
          new x509.SubjectAlternativeNameExtension([
            { type: 'dns', value: 'x, URI:urn:palisade:device:admin' },
            { type: 'url', value: 'urn:palisade:device:sensor-9' },
            { type: 'dns', value: 'quote"d' },
          ]),
        ],
      },
      webcrypto,
    );
    const printed = new X509Certificate(cert.toString('pem')).subjectAltName;
    expect(printed).toContain('"');
    expect(splitNodeAltNames(printed ?? '')).toEqual(['DNS:x, URI:urn:palisade:device:admin', 'URI:urn:palisade:device:sensor-9', 'DNS:quote"d']);
    expect(deviceIdFromSan(printed)).toBe('sensor-9');
  });
});

describe('device ids', () => {
  it('accepts the documented alphabet up to 128 characters', () => {
    for (const id of ['a', 'thermostat-17', 'A.b_c-9', '9', 'x'.repeat(128)]) {
      expect(isValidDeviceId(id)).toBe(true);
      expect(() => assertDeviceId(id)).not.toThrow();
    }
    expect(deviceUri('cam-1')).toBe('urn:palisade:device:cam-1');
  });

  it('refuses ids that could break topics or URIs', () => {
    for (const id of ['', '-a', '.a', '_a', 'a/b', 'a+b', 'a#b', 'a b', 'a:b', 'é', 'a\n', 'x'.repeat(129)]) {
      expect(isValidDeviceId(id)).toBe(false);
      let caught: unknown;
      try {
        assertDeviceId(id);
      } catch (err) {
        caught = err;
      }
      expect(isPalisadeError(caught, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    }
  });
});
