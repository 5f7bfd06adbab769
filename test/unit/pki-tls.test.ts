/**
 * The PKI's certificates in a real TLS handshake (node:tls on loopback): mutual TLS with a device
 * certificate succeeds and yields the device id from the SAN; a certificate from another CA is
 * refused by the handshake itself. Lives in test/unit because src/core may not import node:tls.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chainPem,
  createCertificateAuthority,
  deviceIdFromSan,
  issueDeviceCertificate,
  issueServerCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/core/pki/index.ts';

interface ServerSeen {
  connections: Array<{ authorized: boolean; deviceId: string | null; subjectaltname: string | undefined }>;
  /** Node destroys a socket whose client certificate fails verification and reports why in authorizationError. */
  clientErrors: Array<{ message: string; authorizationError: string | undefined }>;
}

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let serverCert: IssuedCertificate;
let server: tls.Server;
let port: number;
const seen: ServerSeen = { connections: [], clientErrors: [] };

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createCertificateAuthority({ name: 'Palisade' }), createCertificateAuthority({ name: 'Intruder' })]);
  serverCert = await issueServerCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
  server = tls.createServer(
    { key: serverCert.keyPem, cert: serverCert.certPem, ca: chainPem(ca), requestCert: true, rejectUnauthorized: true },
    (socket) => {
      const peer = socket.getPeerCertificate();
      seen.connections.push({ authorized: socket.authorized, deviceId: deviceIdFromSan(peer.subjectaltname), subjectaltname: peer.subjectaltname });
      socket.end('welcome\n');
    },
  );
  server.on('tlsClientError', (err, socket) => {
    seen.clientErrors.push({ message: err.message, authorizationError: socket.authorizationError?.toString() });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.close();
  await once(server, 'close');
});

/**
 * Server-side verdicts recorded since `from`. Matched by content, not position: a connection the
 * client abandoned in an earlier test may still be reported by the server afterwards.
 */
function newAuthorizationErrors(from: number): Array<string | undefined> {
  return seen.clientErrors.slice(from).map((e) => e.authorizationError);
}

interface ClientOutcome {
  data: string;
  error: (Error & { code?: string }) | null;
}

/** Connects, reads until the server closes, and reports what the client saw (never rejects). */
async function connect(opts: { cert?: string; key?: string; ca: string }): Promise<ClientOutcome> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: opts.ca, cert: opts.cert, key: opts.key });
  let data = '';
  let error: ClientOutcome['error'] = null;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  // Not events.once(): it rejects on 'error', and a refused handshake is an expected outcome here.
  await new Promise<void>((resolve) => {
    socket.on('error', (err: Error & { code?: string }) => {
      error = err;
    });
    socket.on('close', () => resolve());
  });
  return { data, error };
}

describe('mutual TLS with PKI certificates', () => {
  it('accepts a device certificate and identifies the device from its SAN', async () => {
    const device = await issueDeviceCertificate(ca, { deviceId: 'thermostat-17', segment: 'hvac' });
    const before = seen.connections.length;
    const outcome = await connect({ cert: device.certPem, key: device.keyPem, ca: chainPem(ca) });
    expect(outcome.error).toBeNull();
    expect(outcome.data).toBe('welcome\n');
    const conn = seen.connections[before];
    expect(conn).toEqual({ authorized: true, deviceId: 'thermostat-17', subjectaltname: 'URI:urn:palisade:device:thermostat-17' });
  });

  it('accepts a device id at the 128-character limit', async () => {
    const id = `d${'x'.repeat(127)}`;
    const device = await issueDeviceCertificate(ca, { deviceId: id, segment: 'hvac' });
    const before = seen.connections.length;
    const outcome = await connect({ cert: device.certPem, key: device.keyPem, ca: chainPem(ca) });
    expect(outcome.error).toBeNull();
    expect(seen.connections[before]?.deviceId).toBe(id);
  });

  it('refuses, in the handshake, a device certificate from another CA', async () => {
    const foreign = await issueDeviceCertificate(otherCa, { deviceId: 'thermostat-17', segment: 'hvac' });
    const connectionsBefore = seen.connections.length;
    const errorsBefore = seen.clientErrors.length;
    const outcome = await connect({ cert: foreign.certPem, key: foreign.keyPem, ca: chainPem(ca) });
    expect(outcome.data).toBe('');
    expect(seen.connections.length).toBe(connectionsBefore);
    await expect.poll(() => newAuthorizationErrors(errorsBefore)).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses a client without a certificate', async () => {
    const connectionsBefore = seen.connections.length;
    const errorsBefore = seen.clientErrors.length;
    const outcome = await connect({ ca: chainPem(ca) });
    expect(outcome.data).toBe('');
    expect(outcome.error?.message).toMatch(/certificate required/);
    expect(seen.connections.length).toBe(connectionsBefore);
    await expect.poll(() => seen.clientErrors.length).toBeGreaterThan(errorsBefore);
  });

  it('lets a device reject a gateway whose certificate is not from its CA', async () => {
    // The gateway sends issuing + root (OpenSSL completes the chain from its `ca` store), hence SELF_SIGNED_CERT_IN_CHAIN.
    const device = await issueDeviceCertificate(ca, { deviceId: 'cam-1', segment: 'cams' });
    const outcome = await connect({ cert: device.certPem, key: device.keyPem, ca: chainPem(otherCa) });
    expect(outcome.data).toBe('');
    expect(outcome.error?.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });

  it('refuses a server certificate presented as a client certificate (EKU)', async () => {
    const connectionsBefore = seen.connections.length;
    const errorsBefore = seen.clientErrors.length;
    const outcome = await connect({ cert: serverCert.certPem, key: serverCert.keyPem, ca: chainPem(ca) });
    expect(outcome.data).toBe('');
    expect(seen.connections.length).toBe(connectionsBefore);
    // The server certificate chains fine; only its EKU (serverAuth, no clientAuth) disqualifies it.
    await expect.poll(() => newAuthorizationErrors(errorsBefore)).toContain('INVALID_PURPOSE');
  });
});
