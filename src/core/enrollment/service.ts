/**
 * Enrollment without the key leaving the device (issue 3, point 1). Every path ends in
 * signDeviceCsr, which takes nothing from the CSR but its public key (after proof of possession
 * and the key-strength policy): the identity in the certificate is always the device that the
 * authorisation names, never what the CSR asks for.
 *
 * Authorisations:
 * - the operator (CLI `cert sign`): any registered, active device;
 * - a one-time enrollment token: the device it was created for, once, before it expires;
 * - a bootstrap certificate (`urn:palisade:bootstrap:<id>`): its device, while it is valid and
 *   not revoked; reusable until then, so a device whose response was lost can retry;
 * - the device's current certificate (re-enrollment): from two thirds of its lifetime until the
 *   grace period after expiry. The old certificate stays valid until it expires (or is revoked
 *   by the operator): revoking it at once would cut the device's live sessions mid-renewal.
 *
 * Every success and every refusal is a security event; tokens never appear in one.
 */
import { ErrorCodes, PalisadeError, isPalisadeError } from '../errors.ts';
import { SEGMENT_PATTERN, normalizeSerial } from '../fleet/register-device.ts';
import { issueBootstrapCertificate } from '../pki/enroll-bootstrap.ts';
import { verifyClientCertificate, type VerifiedClientCertificate } from '../pki/enroll-verify.ts';
import { assertDeviceId, signDeviceCsr, type CertificateAuthority, type IssuedCertificate, type IssuedCsrCertificate } from '../pki/index.ts';
import type { CertificateKind, Device, Severity, Store } from '../ports.ts';
import type { SecretBox } from '../secrets/index.ts';
import { assertInReenrollWindow } from './reenroll-window.ts';
import type { EnrollmentTokenRecord } from './repo.ts';
import { EnrollmentTokens } from './tokens.ts';

export interface EnrollmentSettings {
  /** Lifetime of certificates issued by enrollment (the issue's default: 30). */
  deviceCertDays: number;
  /** Days after expiry during which the old certificate may still re-enroll. */
  reenrollGraceDays: number;
}

export interface EventSink {
  record(type: string, severity: Severity, ctx?: { principal?: string | null; source?: string | null; detail?: Record<string, unknown> }): void;
}

export interface EnrollmentServiceDeps {
  store: Store;
  events: EventSink;
  ca: CertificateAuthority;
  secrets: SecretBox;
  settings: EnrollmentSettings;
  now?: () => number;
}

export interface Enrolled {
  certificate: IssuedCsrCertificate;
  deviceId: string;
}

function refused(message: string, detail?: Record<string, unknown>): PalisadeError {
  return new PalisadeError(ErrorCodes.ENROLLMENT_REFUSED, message, detail === undefined ? undefined : { detail });
}

function reasonOf(err: unknown): string {
  return isPalisadeError(err) ? err.message : 'internal error';
}

export class EnrollmentService {
  readonly tokens: EnrollmentTokens;
  readonly #store: Store;
  readonly #events: EventSink;
  readonly #ca: CertificateAuthority;
  readonly #settings: EnrollmentSettings;
  readonly #now: () => number;

  constructor(deps: EnrollmentServiceDeps) {
    this.#store = deps.store;
    this.#events = deps.events;
    this.#ca = deps.ca;
    this.#settings = deps.settings;
    this.#now = deps.now ?? Date.now;
    this.tokens = new EnrollmentTokens(deps.store.enrollment, deps.secrets);
  }

  get settings(): Readonly<EnrollmentSettings> {
    return this.#settings;
  }

  /** Creates a one-time token, registering the device (without any credential) when it is new. */
  async createToken(req: { deviceId: string; segment?: string; ttlMs: number; actor?: string }): Promise<{ token: string; record: EnrollmentTokenRecord; registered: boolean }> {
    const { device, registered } = await this.#ensureDevice(req.deviceId, req.segment);
    const { token, record } = await this.tokens.create({ deviceId: device.id, segment: device.segment, ttlMs: req.ttlMs, now: this.#now() });
    this.#events.record('enroll.token_created', 'info', { principal: req.actor ?? null, detail: { deviceId: device.id, tokenId: record.id, expiresAt: record.expiresAt, deviceRegistered: registered } });
    return { token, record, registered };
  }

  /** Issues a bootstrap certificate (key generated here) for a device, registering it when new. */
  async issueBootstrap(req: { deviceId: string; segment?: string; days?: number; actor?: string }): Promise<{ certificate: IssuedCertificate; registered: boolean }> {
    const { device, registered } = await this.#ensureDevice(req.deviceId, req.segment);
    const certificate = await issueBootstrapCertificate(this.#ca, { deviceId: device.id, ...(req.days === undefined ? {} : { days: req.days }) });
    await this.#recordCertificate(certificate, device.id, 'bootstrap');
    this.#events.record('enroll.bootstrap_issued', 'info', { principal: req.actor ?? null, detail: { deviceId: device.id, serial: normalizeSerial(certificate.serial), notAfter: certificate.notAfter } });
    return { certificate, registered };
  }

  /** Operator-authorised CSR signing (CLI): the device must be registered and active. */
  async signCsr(req: { deviceId: string; csrPem: string; days?: number; actor?: string }): Promise<Enrolled> {
    assertDeviceId(req.deviceId);
    try {
      const certificate = await this.#issue(req.deviceId, req.csrPem, req.days);
      await this.#recordCertificate(certificate, req.deviceId, 'device');
      this.#events.record('enroll.csr_signed', 'info', { principal: req.actor ?? null, detail: { deviceId: req.deviceId, serial: certificate.serial, method: 'operator' } });
      return { certificate, deviceId: req.deviceId };
    } catch (err) {
      this.#events.record('enroll.refused', 'warning', { principal: req.actor ?? null, detail: { deviceId: req.deviceId, method: 'operator', reason: reasonOf(err) } });
      throw err;
    }
  }

  /** EST simpleenroll / REST enroll with a one-time token (RFC 7030 §4.2.1, §3.2.3). */
  async enrollWithToken(token: string, csrPem: string, source: string | null): Promise<Enrolled> {
    const record = await this.tokens.find(token);
    const fail = (reason: string, extra: Record<string, unknown> = {}): PalisadeError => {
      this.#events.record('enroll.token_refused', 'warning', { principal: record?.deviceId ?? null, source, detail: { reason, ...(record ? { tokenId: record.id } : {}), ...extra } });
      return new PalisadeError(ErrorCodes.AUTH_FAILED, `enrollment token refused: ${reason}`, { detail: { reason } });
    };
    if (record === null) throw fail('unknown token');
    if (record.usedAt !== null) throw fail('already used', { usedAt: record.usedAt });
    if (this.#now() >= record.expiresAt) throw fail('expired', { expiresAt: record.expiresAt });
    let certificate: IssuedCsrCertificate;
    try {
      certificate = await this.#issue(record.deviceId, csrPem);
    } catch (err) {
      // The token is not consumed: a device that sent a bad CSR can fix it and retry.
      this.#events.record('enroll.refused', 'warning', { principal: record.deviceId, source, detail: { method: 'token', tokenId: record.id, reason: reasonOf(err) } });
      throw err;
    }
    // Consumed only now, atomically; the loser of a race gets nothing (its certificate is dropped unseen).
    if (!(await this.#store.enrollment.consumeToken(record.id, this.#now(), certificate.serial))) throw fail('already used');
    await this.#recordCertificate(certificate, record.deviceId, 'device');
    this.#events.record('enroll.token_used', 'info', { principal: record.deviceId, source, detail: { tokenId: record.id, serial: certificate.serial, notAfter: certificate.notAfter } });
    return { certificate, deviceId: record.deviceId };
  }

  /** EST simpleenroll authorised by a bootstrap certificate presented over TLS (RFC 7030 §3.3.2). */
  async enrollWithBootstrap(clientCertDer: Uint8Array, csrPem: string, source: string | null): Promise<Enrolled> {
    const cert = await this.#clientCertificate(clientCertDer, 'bootstrap', source, 'enroll.refused');
    try {
      if (this.#now() > cert.notAfter || this.#now() < cert.notBefore) throw refused('bootstrap certificate is outside its validity period', { serial: cert.serial });
      const certificate = await this.#issue(cert.deviceId, csrPem);
      await this.#recordCertificate(certificate, cert.deviceId, 'device');
      this.#events.record('enroll.bootstrap_used', 'info', { principal: cert.deviceId, source, detail: { bootstrapSerial: cert.serial, serial: certificate.serial, notAfter: certificate.notAfter } });
      return { certificate, deviceId: cert.deviceId };
    } catch (err) {
      this.#events.record('enroll.refused', 'warning', { principal: cert.deviceId, source, detail: { method: 'bootstrap', bootstrapSerial: cert.serial, reason: reasonOf(err) } });
      throw err;
    }
  }

  /** EST simplereenroll (RFC 7030 §4.2.2) with the device's current certificate. */
  async reenroll(clientCertDer: Uint8Array, csrPem: string, source: string | null): Promise<Enrolled & { previousSerial: string }> {
    const cert = await this.#clientCertificate(clientCertDer, 'device', source, 'enroll.reenroll_refused');
    try {
      assertInReenrollWindow(cert, this.#settings.reenrollGraceDays, this.#now());
      const certificate = await this.#issue(cert.deviceId, csrPem);
      await this.#recordCertificate(certificate, cert.deviceId, 'device');
      this.#events.record('enroll.reenrolled', 'info', { principal: cert.deviceId, source, detail: { previousSerial: cert.serial, serial: certificate.serial, notAfter: certificate.notAfter, afterExpiry: this.#now() > cert.notAfter } });
      return { certificate, deviceId: cert.deviceId, previousSerial: cert.serial };
    } catch (err) {
      this.#events.record('enroll.reenroll_refused', 'warning', { principal: cert.deviceId, source, detail: { serial: cert.serial, code: isPalisadeError(err) ? err.code : null, reason: reasonOf(err) } });
      throw err;
    }
  }

  /**
   * A client certificate we issued, of the expected role, whose stored record matches byte for
   * byte (fingerprint) and is not revoked. Dates are checked by the caller.
   */
  async #clientCertificate(der: Uint8Array, role: 'device' | 'bootstrap', source: string | null, eventType: string): Promise<VerifiedClientCertificate> {
    let cert: VerifiedClientCertificate | null = null;
    try {
      cert = await verifyClientCertificate(this.#ca, der);
      if (cert.role !== role) {
        throw refused(role === 'device' ? 'a bootstrap certificate can only enroll (simpleenroll), not re-enroll' : 'a device certificate re-enrolls with simplereenroll', { serial: cert.serial });
      }
      const serial = normalizeSerial(cert.serial);
      const record = await this.#store.certificates.get(serial);
      if (record === null || record.fingerprint !== cert.fingerprint || record.kind !== role || record.deviceId !== cert.deviceId) throw refused('client certificate is not on record', { serial });
      if (record.revokedAt !== null) throw new PalisadeError(ErrorCodes.CERT_REVOKED, 'client certificate is revoked', { detail: { serial } });
      return { ...cert, serial };
    } catch (err) {
      this.#events.record(eventType, 'warning', { principal: cert?.deviceId ?? null, source, detail: { stage: 'client-certificate', serial: cert?.serial ?? null, reason: reasonOf(err) } });
      throw err;
    }
  }

  /** Signs the CSR for a registered, active device; nothing is recorded yet. */
  async #issue(deviceId: string, csrPem: string, days?: number): Promise<IssuedCsrCertificate> {
    const device = await this.#store.devices.get(deviceId);
    if (device === null) throw refused(`device ${deviceId} is not registered`, { deviceId });
    if (device.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_DEVICE_DISABLED, `device ${deviceId} is disabled`, { detail: { deviceId } });
    const certificate = await signDeviceCsr(this.#ca, csrPem, { deviceId, segment: device.segment, days: days ?? this.#settings.deviceCertDays });
    return { ...certificate, serial: normalizeSerial(certificate.serial) };
  }

  async #recordCertificate(c: IssuedCsrCertificate | IssuedCertificate, deviceId: string, kind: CertificateKind): Promise<void> {
    await this.#store.certificates.add({ serial: normalizeSerial(c.serial), kind, deviceId, subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter, fingerprint: c.fingerprint, pem: c.certPem, revokedAt: null, revocationReason: null });
  }

  async #ensureDevice(deviceId: string, segment: string | undefined): Promise<{ device: Device; registered: boolean }> {
    assertDeviceId(deviceId);
    const existing = await this.#store.devices.get(deviceId);
    if (existing !== null) {
      if (segment !== undefined && segment !== existing.segment) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `device ${deviceId} is in segment ${existing.segment}, not ${segment}; move it first`);
      if (existing.status !== 'active') throw new PalisadeError(ErrorCodes.AUTH_DEVICE_DISABLED, `device ${deviceId} is disabled`);
      return { device: existing, registered: false };
    }
    if (segment === undefined) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `device ${deviceId} is not registered; give --segment to register it`);
    if (!SEGMENT_PATTERN.test(segment)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `segment "${segment}" must match ${SEGMENT_PATTERN.source}`);
    const now = this.#now();
    if (!(await this.#store.segments.get(segment))) await this.#store.segments.upsert({ name: segment, description: '', createdAt: now });
    const device: Device = { id: deviceId, segment, status: 'active', attrs: {}, passwordHash: null, createdAt: now };
    await this.#store.devices.create(device);
    return { device, registered: true };
  }
}
