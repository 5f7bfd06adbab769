/**
 * Certificates for the TLS-with-client-certificate scenario. Palisade's own PKI is preferred
 * (server cert from <data-dir>/pki, device cert from `palisade device add`); when it is not there
 * the same shape is generated with openssl (ECDSA P-256) so Mosquitto and Aedes can still run.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TlsSet {
  source: 'palisade' | 'openssl';
  /** CA bundle that verifies client certificates (server side) and the server (client side). */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** One identity per concurrent TLS client, so parallel connections never take each other over. */
  clients: TlsClientIdentity[];
}

export interface TlsClientIdentity {
  clientId: string;
  certFile: string;
  keyFile: string;
}

/** Client ids (= device ids for Palisade) of the TLS clients. */
export const TLS_CLIENT_IDS = Array.from({ length: 8 }, (_, i) => `bench-tls-${i}`);

/** e.g. "EC prime256v1" or "RSA 2048". */
export function describeKey(certFile: string): string {
  const cert = new X509Certificate(readFileSync(certFile));
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  return k.asymmetricKeyType === 'ec' ? `ECDSA ${d.namedCurve ?? ''}`.trim() : `${(k.asymmetricKeyType ?? '?').toUpperCase()} ${d.modulusLength ?? ''}`.trim();
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export function opensslTlsSet(dir: string): TlsSet {
  mkdirSync(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=bench-ca']);
  openssl(['req', ...ec, '-keyout', f('server-key.pem'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server-cert.pem')]);
  const clients = TLS_CLIENT_IDS.map((clientId) => {
    const certFile = f(`${clientId}-cert.pem`);
    const keyFile = f(`${clientId}-key.pem`);
    openssl(['req', ...ec, '-keyout', keyFile, '-out', f(`${clientId}.csr`), '-subj', `/CN=${clientId}`]);
    openssl(['x509', '-req', '-in', f(`${clientId}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '2', '-out', certFile]);
    return { clientId, certFile, keyFile };
  });
  return { source: 'openssl', caFile: f('ca.pem'), serverCertFile: f('server-cert.pem'), serverKeyFile: f('server-key.pem'), clients };
}

/**
 * The set Palisade produced: server certificate from <data-dir>/pki, one device per client id,
 * each written by `palisade device add <id> --out <credsRoot>/<id>`. Null when a file is missing.
 */
export function palisadeTlsSet(dataDir: string, credsRoot: string): TlsSet | null {
  const clients = TLS_CLIENT_IDS.map((clientId) => ({
    clientId,
    certFile: path.join(credsRoot, clientId, 'cert.pem'),
    keyFile: path.join(credsRoot, clientId, 'key.pem'),
  }));
  const set: TlsSet = {
    source: 'palisade',
    caFile: path.join(credsRoot, TLS_CLIENT_IDS[0]!, 'ca.pem'),
    serverCertFile: path.join(dataDir, 'pki', 'server-cert.pem'),
    serverKeyFile: path.join(dataDir, 'pki', 'server-key.pem'),
    clients,
  };
  const files = [set.caFile, set.serverCertFile, set.serverKeyFile, ...clients.flatMap((c) => [c.certFile, c.keyFile])];
  return files.every((p) => existsSync(p)) ? set : null;
}
