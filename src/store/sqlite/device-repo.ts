/**
 * Devices and network segments. A device's segment is a plain name, not a foreign key: devices
 * may be enrolled into a segment before (or without) an explicit segment row.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { Device, DeviceRepo, DeviceStatus, Segment, SegmentRepo } from '../../core/ports.ts';
import { attempt, int, json, text, textOrNull, type Row, type Transaction } from './sql-util.ts';

const DEVICE_COLUMNS = 'id, segment, status, attrs, password_hash, credential_fingerprint, created_at';

function toDevice(row: Row): Device {
  return {
    id: text(row, 'id'),
    segment: text(row, 'segment'),
    status: text(row, 'status') as DeviceStatus,
    attrs: json<Record<string, string>>(row, 'attrs'),
    passwordHash: textOrNull(row, 'password_hash'),
    credentialFingerprint: textOrNull(row, 'credential_fingerprint'),
    createdAt: int(row, 'created_at'),
  };
}

export class SqliteDeviceRepo implements DeviceRepo {
  readonly #tx: Transaction;
  readonly #insert: StatementSync;
  readonly #get: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listBySegment: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;
  readonly #listByFingerprint: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    // DO NOTHING + a changes check reports duplicates without parsing driver error codes.
    this.#insert = db.prepare(
      `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (:id, :segment, :status, :attrs, :passwordHash, :credentialFingerprint, :createdAt)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.#get = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`);
    this.#listAll = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`);
    this.#listBySegment = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE segment = ? ORDER BY id`);
    this.#update = db.prepare(
      `UPDATE devices SET segment = :segment, status = :status, attrs = :attrs, password_hash = :passwordHash,
         credential_fingerprint = :credentialFingerprint
       WHERE id = :id`,
    );
    this.#delete = db.prepare('DELETE FROM devices WHERE id = ?');
    this.#listByFingerprint = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE credential_fingerprint = ? ORDER BY id`);
  }

  create(device: Device): Promise<void> {
    return attempt('devices.create', () => {
      const { changes } = this.#insert.run({
        id: device.id,
        segment: device.segment,
        status: device.status,
        attrs: JSON.stringify(device.attrs),
        passwordHash: device.passwordHash,
        credentialFingerprint: device.credentialFingerprint ?? null,
        createdAt: device.createdAt,
      });
      if (Number(changes) === 0) {
        throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `device ${device.id} already exists`, { detail: { id: device.id } });
      }
    });
  }

  get(id: string): Promise<Device | null> {
    return attempt('devices.get', () => {
      const row = this.#get.get(id);
      return row === undefined ? null : toDevice(row);
    });
  }

  list(filter?: { segment?: string }): Promise<Device[]> {
    return attempt('devices.list', () => {
      const rows = filter?.segment === undefined ? this.#listAll.all() : this.#listBySegment.all(filter.segment);
      return rows.map(toDevice);
    });
  }

  update(id: string, patch: Partial<Omit<Device, 'id' | 'createdAt'>>): Promise<void> {
    // Read-merge-write inside one transaction: a patch may set passwordHash to null, so a
    // COALESCE-style single UPDATE could not tell "clear" from "leave alone".
    return attempt('devices.update', () =>
      this.#tx(() => {
        const row = this.#get.get(id);
        if (row === undefined) {
          throw new PalisadeError(ErrorCodes.NOT_FOUND, `device ${id} not found`, { detail: { id } });
        }
        const current = toDevice(row);
        this.#update.run({
          id,
          segment: patch.segment ?? current.segment,
          status: patch.status ?? current.status,
          attrs: JSON.stringify(patch.attrs ?? current.attrs),
          passwordHash: patch.passwordHash === undefined ? current.passwordHash : patch.passwordHash,
          credentialFingerprint: nextFingerprint(current, patch),
        });
      }),
    );
  }

  delete(id: string): Promise<boolean> {
    return attempt('devices.delete', () => Number(this.#delete.run(id).changes) > 0);
  }

  listByCredentialFingerprint(fingerprint: string): Promise<Device[]> {
    return attempt('devices.listByCredentialFingerprint', () => this.#listByFingerprint.all(fingerprint).map(toDevice));
  }
}

/**
 * A fingerprint describes one password: a patch that replaces the hash without a new
 * fingerprint leaves none (unknown), rather than a stale one that would misreport sharing.
 */
function nextFingerprint(current: Device, patch: Partial<Device>): string | null {
  if (patch.credentialFingerprint !== undefined) return patch.credentialFingerprint;
  if (patch.passwordHash !== undefined && patch.passwordHash !== current.passwordHash) return null;
  return current.credentialFingerprint ?? null;
}

function toSegment(row: Row): Segment {
  return {
    name: text(row, 'name'),
    description: text(row, 'description'),
    createdAt: int(row, 'created_at'),
  };
}

export class SqliteSegmentRepo implements SegmentRepo {
  readonly #upsert: StatementSync;
  readonly #get: StatementSync;
  readonly #list: StatementSync;

  constructor(db: DatabaseSync) {
    this.#upsert = db.prepare(
      `INSERT INTO segments (name, description, created_at) VALUES (:name, :description, :createdAt)
       ON CONFLICT (name) DO UPDATE SET description = excluded.description, created_at = excluded.created_at`,
    );
    this.#get = db.prepare('SELECT name, description, created_at FROM segments WHERE name = ?');
    this.#list = db.prepare('SELECT name, description, created_at FROM segments ORDER BY name');
  }

  upsert(segment: Segment): Promise<void> {
    return attempt('segments.upsert', () => {
      this.#upsert.run({ name: segment.name, description: segment.description, createdAt: segment.createdAt });
    });
  }

  get(name: string): Promise<Segment | null> {
    return attempt('segments.get', () => {
      const row = this.#get.get(name);
      return row === undefined ? null : toSegment(row);
    });
  }

  list(): Promise<Segment[]> {
    return attempt('segments.list', () => this.#list.all().map(toSegment));
  }
}
