/**
 * Issued certificates and their revocation state. Rows outlive their device (no foreign key) so
 * the revocation list stays complete after a device is deleted.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { CertificateKind, CertificateRecord, CertificateRepo } from '../../core/ports.ts';
import { attempt, int, intOrNull, text, textOrNull, type Row } from './sql-util.ts';

const COLUMNS =
  'serial, kind, device_id, subject, not_before, not_after, fingerprint, pem, revoked_at, revocation_reason';

function toCertificate(row: Row): CertificateRecord {
  return {
    serial: text(row, 'serial'),
    kind: text(row, 'kind') as CertificateKind,
    deviceId: textOrNull(row, 'device_id'),
    subject: text(row, 'subject'),
    notBefore: int(row, 'not_before'),
    notAfter: int(row, 'not_after'),
    fingerprint: text(row, 'fingerprint'),
    pem: text(row, 'pem'),
    revokedAt: intOrNull(row, 'revoked_at'),
    revocationReason: textOrNull(row, 'revocation_reason'),
  };
}

export class SqliteCertificateRepo implements CertificateRepo {
  readonly #insert: StatementSync;
  readonly #get: StatementSync;
  readonly #listByDevice: StatementSync;
  readonly #revoke: StatementSync;
  readonly #listRevoked: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      `INSERT INTO certificates (${COLUMNS})
       VALUES (:serial, :kind, :deviceId, :subject, :notBefore, :notAfter, :fingerprint, :pem, :revokedAt, :revocationReason)
       ON CONFLICT (serial) DO NOTHING`,
    );
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM certificates WHERE serial = ?`);
    this.#listByDevice = db.prepare(`SELECT ${COLUMNS} FROM certificates WHERE device_id = ? ORDER BY not_before, serial`);
    // The IS NULL guard makes revocation first-wins: a repeat keeps the original time and reason.
    this.#revoke = db.prepare(
      'UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL',
    );
    this.#listRevoked = db.prepare(
      `SELECT ${COLUMNS} FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial`,
    );
  }

  add(cert: CertificateRecord): Promise<void> {
    return attempt('certificates.add', () => {
      const { changes } = this.#insert.run({
        serial: cert.serial,
        kind: cert.kind,
        deviceId: cert.deviceId,
        subject: cert.subject,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        fingerprint: cert.fingerprint,
        pem: cert.pem,
        revokedAt: cert.revokedAt,
        revocationReason: cert.revocationReason,
      });
      // A serial names exactly one certificate; silently replacing one would rewrite PKI history.
      if (Number(changes) === 0) {
        throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `certificate ${cert.serial} already exists`, {
          detail: { serial: cert.serial },
        });
      }
    });
  }

  get(serial: string): Promise<CertificateRecord | null> {
    return attempt('certificates.get', () => {
      const row = this.#get.get(serial);
      return row === undefined ? null : toCertificate(row);
    });
  }

  listByDevice(deviceId: string): Promise<CertificateRecord[]> {
    return attempt('certificates.listByDevice', () => this.#listByDevice.all(deviceId).map(toCertificate));
  }

  revoke(serial: string, at: number, reason: string): Promise<boolean> {
    return attempt('certificates.revoke', () => Number(this.#revoke.run(at, reason, serial).changes) > 0);
  }

  listRevoked(): Promise<CertificateRecord[]> {
    return attempt('certificates.listRevoked', () => this.#listRevoked.all().map(toCertificate));
  }
}
