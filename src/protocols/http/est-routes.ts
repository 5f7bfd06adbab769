/**
 * Enrollment over HTTPS (issue 3, point 1): EST (RFC 7030) under /.well-known/est/ and a JSON
 * twin under /api/v1/. A fastify route group (app.ts); the HTTPS listener requests client
 * certificates without requiring them, and the service verifies them itself (enroll-verify.ts).
 *
 * EST:
 * - GET  /.well-known/est/cacerts         CA certificates, certs-only PKCS#7, base64 (§4.1.3)
 * - POST /.well-known/est/simpleenroll    base64 DER PKCS#10 (§4.2.1); authorised by an
 *   enrollment token (`Authorization: Bearer <token>`, or HTTP Basic with the token as the
 *   password, §3.2.3) or a bootstrap client certificate (§3.3.2)
 * - POST /.well-known/est/simplereenroll  authorised by the device's current certificate (§4.2.2)
 * Responses are `application/pkcs7-mime; smime-type=certs-only`, base64 (§4.2.3). Errors are
 * text/plain with a human-readable line (§4.2.3); 401 carries WWW-Authenticate (§3.2.3).
 *
 * JSON: POST /api/v1/enroll {csr: PEM} with the token → {certificate, chain, serial, notAfter};
 * POST /api/v1/reenroll {csr: PEM} over TLS with the current certificate → the same.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, PalisadeError, isPalisadeError } from '../../core/errors.ts';
import type { EnrollmentSettings, Enrolled, EventSink } from '../../core/enrollment/service.ts';
import { EnrollmentService } from '../../core/enrollment/service.ts';
import { chainPem, type CertificateAuthority } from '../../core/pki/index.ts';
import { parseCertificate } from '../../core/pki/info.ts';
import * as x509 from '../../core/pki/x509.ts';
import type { Store } from '../../core/ports.ts';
import type { SecretBox } from '../../core/secrets/index.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import { throttled } from './admin-guard.ts';
import { sourceOf } from './app.ts';
import { toHttpError } from './errors.ts';

export interface EstRoutesDeps {
  ca: CertificateAuthority;
  store: Store;
  events: EventSink;
  secrets: SecretBox;
  settings: EnrollmentSettings;
  /** Guessed tokens count as failed logins per source address (issue 3 point 4). */
  throttle: AuthThrottle;
  now?: () => number;
}

/** A CSR is at most a few KiB even for RSA-4096; base64 adds a third. */
const CSR_BODY_LIMIT = 32 * 1024;
const PKCS7_CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only';
const WWW_AUTHENTICATE = ['Bearer realm="palisade-est"', 'Basic realm="palisade-est"'];

/** base64 in 64-character lines: RFC 2045 §6.8 bounds lines at 76; `openssl base64 -d` wants ≤ 64. */
function base64Lines(der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `${b64.replace(/.{1,64}/g, '$&\n')}`;
}

/** Certs-only PKCS#7 SignedData (RFC 5652 §5; RFC 7030 §4.1.3, §4.2.3) in DER. */
function certsOnly(pems: readonly string[]): ArrayBuffer {
  return new x509.X509Certificates(pems.map((p) => parseCertificate(p))).export('raw');
}

/** The body of an application/pkcs10 request as a PEM CSR: base64 DER per §4.2.1 (PEM tolerated). */
function csrFromEstBody(body: unknown): string {
  if (typeof body !== 'string' || body.length === 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'body must be a base64 PKCS#10 request');
  if (body.trimStart().startsWith('-----BEGIN')) return body;
  const compact = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'body is not base64');
  return x509.PemConverter.encode(Buffer.from(compact, 'base64'), 'CERTIFICATE REQUEST');
}

/** The enrollment token of a request: Bearer (RFC 6750 §2.1) or Basic password (RFC 7617 §2). */
export function tokenFrom(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^(\S+)\s+(\S+)\s*$/.exec(h);
  if (m?.[1] === undefined || m[2] === undefined) return '';
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return m[2];
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? '' : decoded.slice(colon + 1);
  }
  return '';
}

/** DER of the client certificate presented in the TLS handshake, verified or not; null if none. */
function clientCertificate(req: FastifyRequest): Uint8Array | null {
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const cert = socket.getPeerCertificate(false);
  return cert !== undefined && cert !== null && Buffer.isBuffer(cert.raw) && cert.raw.length > 0 ? cert.raw : null;
}

function statusOf(err: unknown): number {
  if (isPalisadeError(err, ErrorCodes.REENROLL_TOO_EARLY)) return 409;
  if (isPalisadeError(err, ErrorCodes.ENROLLMENT_REFUSED)) return 403;
  if (isPalisadeError(err, ErrorCodes.PKI_FAILURE)) return 400;
  return toHttpError(err).status;
}

function messageOf(err: unknown, status: number): string {
  if (status >= 500) return 'internal error';
  return isPalisadeError(err) || err instanceof Error ? err.message : 'bad request';
}

function codeOf(err: unknown, status: number): string {
  return isPalisadeError(err) && status < 500 ? err.code : toHttpError(err).body.code;
}

function unauthorized(message: string): PalisadeError {
  return new PalisadeError(ErrorCodes.AUTH_NO_CREDENTIALS, message);
}

export function estRoutes(deps: EstRoutesDeps): FastifyPluginAsync {
  const service = new EnrollmentService({ ...deps });
  const chain = chainPem(deps.ca);
  const caCertsBody = base64Lines(certsOnly([deps.ca.issuing.certPem, deps.ca.root.certPem]));

  async function enroll(req: FastifyRequest, csrPem: string): Promise<Enrolled> {
    const token = tokenFrom(req);
    if (token !== null) return throttled(deps.throttle, deps.events, req, null, 'enroll_token', () => service.enrollWithToken(token, csrPem, sourceOf(req)), 'enroll');
    const der = clientCertificate(req);
    if (der !== null) return service.enrollWithBootstrap(der, csrPem, sourceOf(req));
    throw unauthorized('enrollment needs an enrollment token (Bearer, or Basic password) or a bootstrap client certificate');
  }

  async function reenroll(req: FastifyRequest, csrPem: string): Promise<Enrolled> {
    const der = clientCertificate(req);
    if (der === null) throw unauthorized('re-enrollment needs the current device certificate as TLS client certificate');
    return service.reenroll(der, csrPem, sourceOf(req));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits the plugin
  const est: FastifyPluginAsync = async (app) => {
    app.addContentTypeParser('application/pkcs10', { parseAs: 'string', bodyLimit: CSR_BODY_LIMIT }, (_req, body, done) => done(null, body));
    // RFC 7030 §4.2.3: errors as text/plain for a human; 401 names the schemes we accept.
    app.setErrorHandler((err, _req, reply) => {
      const status = statusOf(err);
      if (status === 401) void reply.header('www-authenticate', WWW_AUTHENTICATE);
      return reply.code(status).type('text/plain; charset=utf-8').send(`${messageOf(err, status)}\n`);
    });
    const send = (reply: FastifyReply, r: Enrolled): FastifyReply => reply.type(PKCS7_CERTS_ONLY).header('content-transfer-encoding', 'base64').send(base64Lines(certsOnly([r.certificate.certPem])));

    app.get('/.well-known/est/cacerts', async (_req, reply) => reply.type('application/pkcs7-mime').header('content-transfer-encoding', 'base64').send(caCertsBody));
    app.post('/.well-known/est/simpleenroll', { bodyLimit: CSR_BODY_LIMIT }, async (req, reply) => send(reply, await enroll(req, csrFromEstBody(req.body))));
    app.post('/.well-known/est/simplereenroll', { bodyLimit: CSR_BODY_LIMIT }, async (req, reply) => send(reply, await reenroll(req, csrFromEstBody(req.body))));
  };

  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits the plugin
  const json: FastifyPluginAsync = async (app) => {
    app.setErrorHandler((err, _req, reply) => {
      const status = statusOf(err);
      if (status === 401) void reply.header('www-authenticate', WWW_AUTHENTICATE);
      return reply.code(status).type('application/json').send({ error: messageOf(err, status), code: codeOf(err, status) });
    });
    const schema = {
      body: { type: 'object', required: ['csr'], additionalProperties: false, properties: { csr: { type: 'string', minLength: 1, maxLength: 16 * 1024 } } },
    } as const;
    const answer = (r: Enrolled): Record<string, unknown> => ({ deviceId: r.deviceId, serial: r.certificate.serial, notAfter: new Date(r.certificate.notAfter).toISOString(), certificate: r.certificate.certPem, chain });
    app.post('/api/v1/enroll', { schema, bodyLimit: CSR_BODY_LIMIT }, async (req) => answer(await enroll(req, (req.body as { csr: string }).csr)));
    app.post('/api/v1/reenroll', { schema, bodyLimit: CSR_BODY_LIMIT }, async (req) => answer(await reenroll(req, (req.body as { csr: string }).csr)));
  };

  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits the plugin
  return async (app) => {
    void app.register(est);
    void app.register(json);
  };
}
