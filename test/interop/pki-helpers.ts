/**
 * Certificates the CLI will not make, for the identity interop tests: a device certificate signed
 * by the gateway's real issuing CA but with a validity window of our choosing (an expired one),
 * and a whole foreign CA made with openssl that signs a certificate claiming a real device's
 * identity. Both are written as PEM files that openssl s_client, mosquitto_pub and MQTT.js read.
 *
 * The issuing CA key is sealed in the data dir (src/store/pki-files.ts); it is opened here the
 * way the CLI opens it, with the data dir's master key. Test-only: nothing in src issues
 * certificates in the past.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deviceUri } from '../../src/core/pki/identity.ts';
import { exportPrivateKeyPem, generateP256, importSigningKey, randomSerialHex, webcrypto } from '../../src/core/pki/keys.ts';
import { authorityKeyId } from '../../src/core/pki/ca.ts';
import { buildName } from '../../src/core/pki/names.ts';
import * as x509 from '../../src/core/pki/x509.ts';
import { openSecretBox } from '../../src/store/master-key.ts';
import { loadCa } from '../../src/store/pki-files.ts';
import { explain, runTool } from './harness.ts';

export interface CertFiles {
  certPath: string;
  keyPath: string;
  /** Lower-case hex serial. */
  serial: string;
}

/**
 * Signs a device certificate with the gateway's issuing CA, with the profile of
 * src/core/pki/issue.ts (SAN URI urn:palisade:device:<id>, clientAuth) but the given validity.
 * Needs the gateway's data dir with its default master key file.
 */
export async function issueWithValidity(dataDir: string, outDir: string, device: { id: string; segment: string }, notBefore: Date, notAfter: Date): Promise<CertFiles> {
  const ca = loadCa(dataDir, openSecretBox(dataDir, { masterKeyFile: null, masterKeyEnv: null }));
  if (ca === null) throw new Error(`no CA in ${dataDir}/pki`);
  const issuer = new x509.X509Certificate(ca.issuing.certPem);
  const signer = await importSigningKey(ca.issuing.keyPem, issuer);
  const keys = await generateP256();
  const serial = randomSerialHex();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      issuer: issuer.subjectName,
      subject: buildName([
        ['O', 'Palisade'],
        ['OU', device.segment],
        ['CN', device.id],
      ]),
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: deviceUri(device.id) }], false),
        await authorityKeyId(issuer),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  await mkdir(outDir, { recursive: true });
  const certPath = join(outDir, 'cert.pem');
  const keyPath = join(outDir, 'key.pem');
  await writeFile(certPath, `${cert.toString('pem')}\n`);
  await writeFile(keyPath, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
  return { certPath, keyPath, serial };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runTool('openssl', args, { cwd, timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`openssl failed: ${explain(r)}`);
}

/**
 * A self-signed CA made by openssl (not Palisade's), and a client certificate it signs that
 * carries a real device's identity (SAN URI and CN): what an attacker who knows a device id
 * can forge without Palisade's CA key.
 */
export async function foreignCaCertificate(outDir: string, deviceId: string): Promise<CertFiles & { caPath: string }> {
  await mkdir(outDir, { recursive: true });
  const ext = join(outDir, 'client.ext');
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:${deviceUri(deviceId)}\n`);
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '30', '-subj', '/O=Elsewhere/CN=Elsewhere Root CA'], outDir);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', `/O=Palisade/CN=${deviceId}`], outDir);
  await openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '30', '-extfile', 'client.ext', '-out', 'cert.pem'], outDir);
  const serial = new x509.X509Certificate(await readFile(join(outDir, 'cert.pem'), 'utf8')).serialNumber.toLowerCase();
  return { certPath: join(outDir, 'cert.pem'), keyPath: join(outDir, 'key.pem'), caPath: join(outDir, 'ca.pem'), serial };
}
