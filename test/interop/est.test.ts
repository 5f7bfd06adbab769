/**
 * Enrollment with real peers against a real `palisade start` process (issue 3, point 1): the
 * device's key is made by `openssl req` and never leaves the device's directory; `curl` talks
 * EST (RFC 7030); `openssl pkcs7` parses the answer; `mosquitto_pub` connects with the result.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, Gateway, killAll, mosquittoPub, runCli, runTool, type ToolResult } from './harness.ts';

const CONFIG = {
  log: { level: 'warn' },
  hostnames: ['localhost', '127.0.0.1'],
  listeners: {
    mqtt: { port: 0 },
    mqtts: { port: 0, host: '127.0.0.1' },
    https: { port: 0, host: '127.0.0.1' },
  },
};

let gw: Gateway;
let estBase: string;

beforeAll(async () => {
  gw = await Gateway.start(CONFIG);
  estBase = `https://127.0.0.1:${gw.endpoint('https').port}/.well-known/est`;
}, 120_000);

afterAll(async () => {
  try {
    await gw?.dispose();
  } finally {
    await killAll();
  }
});

function cli(args: string[]): Promise<ToolResult> {
  return runCli([...args, '--config', gw.configPath, '--data-dir', gw.dataDir]);
}

async function ok(r: Promise<ToolResult>): Promise<ToolResult> {
  const done = await r;
  expect(done.code, explain(done)).toBe(0);
  return done;
}

/** A device directory with a key and a base64 DER CSR made by openssl; the CSR claims to be "admin". */
async function deviceWithCsr(name: string): Promise<{ dir: string; key: string; csrPem: string; csrB64: string }> {
  const dir = join(gw.root, 'est-devices', name);
  await mkdir(dir, { recursive: true });
  const key = join(dir, 'key.pem');
  const csrPem = join(dir, 'csr.pem');
  await ok(runTool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csrPem, '-subj', '/CN=admin', '-addext', 'subjectAltName=URI:urn:palisade:device:admin']));
  await ok(runTool('openssl', ['req', '-in', csrPem, '-outform', 'DER', '-out', join(dir, 'csr.der')]));
  await ok(runTool('openssl', ['base64', '-in', join(dir, 'csr.der'), '-out', join(dir, 'csr.b64')]));
  return { dir, key, csrPem, csrB64: join(dir, 'csr.b64') };
}

/** curl POST of a base64 CSR; returns the HTTP status, the body saved to `out`. */
async function curlEst(op: string, csrB64: string, out: string, extra: string[]): Promise<number> {
  const r = await runTool('curl', ['-sS', '--cacert', gw.caPath, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csrB64}`, '-o', out, '-w', '%{http_code}', ...extra, `${estBase}/${op}`]);
  expect(r.code, explain(r)).toBe(0);
  return Number(r.stdout.trim());
}

/** `openssl base64 -d | openssl pkcs7 -inform DER -print_certs` into `certOut`; returns the certificates. */
async function pkcs7ToPem(b64: string, certOut: string): Promise<X509Certificate[]> {
  const der = `${b64}.der`;
  await ok(runTool('openssl', ['base64', '-d', '-in', b64, '-out', der]));
  await ok(runTool('openssl', ['pkcs7', '-inform', 'DER', '-in', der, '-print_certs', '-out', certOut]));
  const pem = await readFile(certOut, 'utf8');
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

function pub(cert: string, key: string, clientId: string): Promise<ToolResult> {
  const ep = gw.endpoint('mqtts');
  return mosquittoPub(['--cafile', gw.caPath, '--cert', cert, '--key', key, '-h', 'localhost', '-p', String(ep.port), '-i', clientId, '-t', `plant/${clientId}/hello`, '-m', 'hi', '-q', '1']);
}

describe('EST with openssl, curl and mosquitto_pub', () => {
  it('cacerts parses with openssl pkcs7 into the issuing and root CA', async () => {
    const out = join(gw.root, 'cacerts.b64');
    const r = await runTool('curl', ['-sS', '--fail', '--cacert', gw.caPath, '-o', out, `${estBase}/cacerts`]);
    expect(r.code, explain(r)).toBe(0);
    const certs = await pkcs7ToPem(out, join(gw.root, 'cacerts.pem'));
    expect(certs.map((c) => c.subject)).toEqual([expect.stringContaining('CN=Palisade Issuing CA'), expect.stringContaining('CN=Palisade Root CA')]);
  });

  it('a token from `palisade enroll token` enrolls an openssl key once; mosquitto_pub connects with the certificate', async () => {
    const made = await ok(cli(['enroll', 'token', '--device', 'est-dev', '--segment', 'plant', '--ttl', '1h']));
    const token = /token \(shown once\): (pet_\S+)/.exec(made.stdout)?.[1];
    expect(token, made.stdout).toBeDefined();
    const dev = await deviceWithCsr('est-dev');
    const resp = join(dev.dir, 'resp.b64');
    expect(await curlEst('simpleenroll', dev.csrB64, resp, ['-H', `Authorization: Bearer ${token ?? ''}`])).toBe(200);
    const [cert] = await pkcs7ToPem(resp, join(dev.dir, 'cert.pem'));
    expect(cert?.subjectAltName).toBe('URI:urn:palisade:device:est-dev');
    const p = await pub(join(dev.dir, 'cert.pem'), dev.key, 'est-dev');
    expect(p.code, explain(p)).toBe(0);

    // Single use: the same token again is refused with 401.
    expect(await curlEst('simpleenroll', dev.csrB64, join(dev.dir, 'again.txt'), ['-H', `Authorization: Bearer ${token ?? ''}`])).toBe(401);
    expect(await readFile(join(dev.dir, 'again.txt'), 'utf8')).toMatch(/already used/);
    // Too early to re-enroll with a fresh certificate: 409 with the opening time.
    expect(await curlEst('simplereenroll', dev.csrB64, join(dev.dir, 'early.txt'), ['--cert', join(dev.dir, 'cert.pem'), '--key', dev.key])).toBe(409);
    expect(await readFile(join(dev.dir, 'early.txt'), 'utf8')).toMatch(/re-enrollment opens at/);
    // `palisade enroll list` shows the token as used, never the token itself.
    const list = await ok(cli(['enroll', 'list', '--device', 'est-dev']));
    expect(list.stdout).toMatch(/est-dev\t\S+\tused /);
    expect(list.stdout).not.toContain(token ?? 'pet_');
  });

  it('a bootstrap certificate cannot connect to MQTT, but enrolls its device over EST with curl --cert', async () => {
    const bootDir = join(gw.root, 'boot-dev-bootstrap');
    await ok(cli(['enroll', 'bootstrap', '--device', 'boot-dev', '--segment', 'plant', '--out', bootDir]));
    const bootCert = join(bootDir, 'bootstrap-cert.pem');
    const bootKey = join(bootDir, 'bootstrap-key.pem');
    const refused = await pub(bootCert, bootKey, 'boot-dev');
    expect(refused.code, explain(refused)).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/not authori[sz]ed|refused|Connection Refused/i);

    const dev = await deviceWithCsr('boot-dev');
    const resp = join(dev.dir, 'resp.b64');
    expect(await curlEst('simpleenroll', dev.csrB64, resp, ['--cert', bootCert, '--key', bootKey])).toBe(200);
    const [cert] = await pkcs7ToPem(resp, join(dev.dir, 'cert.pem'));
    expect(cert?.subjectAltName).toBe('URI:urn:palisade:device:boot-dev');
    const p = await pub(join(dev.dir, 'cert.pem'), dev.key, 'boot-dev');
    expect(p.code, explain(p)).toBe(0);
  });

  it('`palisade cert sign` certifies an openssl CSR for the named device', async () => {
    await ok(cli(['enroll', 'token', '--device', 'signed-dev', '--segment', 'plant']));
    const dev = await deviceWithCsr('signed-dev');
    const certPath = join(dev.dir, 'cert.pem');
    await ok(cli(['cert', 'sign', dev.csrPem, '--device', 'signed-dev', '--days', '10', '--out', certPath]));
    const cert = new X509Certificate(await readFile(certPath));
    expect(cert.subjectAltName).toBe('URI:urn:palisade:device:signed-dev');
    const p = await pub(certPath, dev.key, 'signed-dev');
    expect(p.code, explain(p)).toBe(0);
    // A weak key is refused with one clear line.
    const weakKey = join(dev.dir, 'weak.key');
    const weakCsr = join(dev.dir, 'weak.csr');
    await ok(runTool('openssl', ['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', weakKey, '-out', weakCsr, '-subj', '/CN=x']));
    const weak = await cli(['cert', 'sign', weakCsr, '--device', 'signed-dev']);
    expect(weak.code).not.toBe(0);
    expect(weak.stderr.trim()).toMatch(/^palisade: RSA key of 1024 bits is too weak \(minimum 2048\)$/);
  });
});
