/**
 * Versioned schema for the embedded store. Migrations are append-only: a released version is
 * never edited, a change ships as a new entry. All pending migrations and their bookkeeping rows
 * in `schema_migrations` commit in one transaction, so a crash mid-upgrade leaves the old schema.
 *
 * Tables are STRICT so a wrongly typed value (a fractional timestamp, a string in a qos column)
 * fails loudly instead of being stored with SQLite's loose affinity. There are deliberately no
 * foreign keys between sessions, subscriptions and stored messages: core may write them in any
 * order across separate calls, and sessions.delete removes them explicitly.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import { int, transactionFor } from './sql-util.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE segments (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        segment TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
        attrs TEXT NOT NULL,
        password_hash TEXT,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX devices_by_segment ON devices (segment);

      CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('root-ca', 'issuing-ca', 'server', 'device')),
        device_id TEXT,
        subject TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        pem TEXT NOT NULL,
        revoked_at INTEGER,
        revocation_reason TEXT
      ) STRICT;
      CREATE INDEX certificates_by_device ON certificates (device_id) WHERE device_id IS NOT NULL;
      CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;

      CREATE TABLE sessions (
        client_id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL,
        protocol_version INTEGER NOT NULL CHECK (protocol_version IN (3, 4, 5)),
        expiry_interval INTEGER NOT NULL,
        disconnected_at INTEGER,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE subscriptions (
        client_id TEXT NOT NULL,
        filter TEXT NOT NULL,
        qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        no_local INTEGER NOT NULL,
        retain_as_published INTEGER NOT NULL,
        retain_handling INTEGER NOT NULL CHECK (retain_handling IN (0, 1, 2)),
        subscription_id INTEGER,
        PRIMARY KEY (client_id, filter)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE retained (
        topic TEXT PRIMARY KEY,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        properties TEXT NOT NULL,
        expires_at INTEGER,
        stored_at INTEGER NOT NULL
      ) STRICT;

      -- A rowid table on purpose: payloads can be large, and WITHOUT ROWID suits small rows only.
      CREATE TABLE stored_messages (
        client_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        packet_id INTEGER,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'pubrel')),
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        retain INTEGER NOT NULL,
        properties TEXT NOT NULL,
        subscription_ids TEXT NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (client_id, seq)
      ) STRICT;

      CREATE TABLE incoming_qos2 (
        client_id TEXT NOT NULL,
        packet_id INTEGER NOT NULL,
        PRIMARY KEY (client_id, packet_id)
      ) STRICT, WITHOUT ROWID;

      -- AUTOINCREMENT so an id is never reused, which the hash chain and sinceId readers rely on.
      CREATE TABLE security_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
        principal TEXT,
        source TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE INDEX security_events_by_type ON security_events (type, id);
    `,
  },
  {
    version: 2,
    name: 'policies and attachments',
    sql: `
      CREATE TABLE policies (
        name TEXT PRIMARY KEY,
        document TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      -- A real foreign key here: an attachment of a deleted policy must not outlive it.
      CREATE TABLE policy_attachments (
        target_kind TEXT NOT NULL CHECK (target_kind IN ('segment', 'device')),
        target_id TEXT NOT NULL,
        policy_name TEXT NOT NULL REFERENCES policies (name) ON DELETE CASCADE,
        PRIMARY KEY (target_kind, target_id, policy_name)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX policy_attachments_by_policy ON policy_attachments (policy_name);
    `,
  },
  {
    version: 3,
    name: 'change feed',
    // Triggers, not repository code, write the feed: every writer (the gateway, the CLI, the
    // admin API, a second process) is covered, in the same transaction as its change.
    sql: `
      CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('device', 'policy')),
        key TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;

      CREATE TRIGGER changes_device_insert AFTER INSERT ON devices BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('device', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_device_update AFTER UPDATE ON devices BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('device', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_device_delete AFTER DELETE ON devices BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('device', OLD.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_policy_insert AFTER INSERT ON policies BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('policy', NEW.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_policy_update AFTER UPDATE ON policies BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('policy', NEW.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_policy_delete AFTER DELETE ON policies BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('policy', OLD.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_attachment_insert AFTER INSERT ON policy_attachments BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('policy', NEW.policy_name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
      CREATE TRIGGER changes_attachment_delete AFTER DELETE ON policy_attachments BEGIN
        INSERT INTO changes (kind, key, at) VALUES ('policy', OLD.policy_name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
      END;
    `,
  },
  {
    version: 4,
    name: 'device credential fingerprints',
    // Keyed fingerprints of device passwords: salted hashes cannot show two devices sharing one.
    sql: `
      ALTER TABLE devices ADD COLUMN credential_fingerprint TEXT;
      CREATE INDEX devices_by_credential_fingerprint ON devices (credential_fingerprint) WHERE credential_fingerprint IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'signed event log checkpoints',
    // Each row signs (last event id, its hash, events so far) with the Ed25519 event-log key
    // (core/events/checkpoint.ts); AUTOINCREMENT so a checkpoint id is never reused.
    sql: `
      CREATE TABLE security_event_checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        last_event_id INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        event_count INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: 'operator accounts and tokens',
    // Operators are people (admin, operator, viewer); TOTP seeds are sealed with the SecretBox,
    // tokens are stored as SHA-256 hashes only (core/operators).
    sql: `
      CREATE TABLE operators (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
        password_hash TEXT NOT NULL,
        totp_sealed TEXT,
        mfa TEXT NOT NULL CHECK (mfa IN ('none', 'pending', 'active')),
        totp_last_step INTEGER,
        created_at INTEGER NOT NULL,
        created_by TEXT
      ) STRICT;

      CREATE TABLE operator_tokens (
        id TEXT PRIMARY KEY,
        operator TEXT NOT NULL REFERENCES operators (username) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
        hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX operator_tokens_by_operator ON operator_tokens (operator);
    `,
  },
  {
    version: 7,
    name: 'enrollment tokens and bootstrap certificates',
    // Tokens are stored sealed plus an HMAC lookup (core/enrollment/tokens.ts), never in clear.
    // certificates is rebuilt because a CHECK cannot be altered in place: it gains the kind
    // 'bootstrap' (a certificate that may only enroll its device).
    sql: `
      CREATE TABLE enrollment_tokens (
        id TEXT PRIMARY KEY,
        lookup TEXT NOT NULL UNIQUE,
        sealed TEXT NOT NULL,
        device_id TEXT NOT NULL,
        segment TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_for TEXT
      ) STRICT;
      CREATE INDEX enrollment_tokens_by_device ON enrollment_tokens (device_id);

      CREATE TABLE enrollment_keys (
        name TEXT PRIMARY KEY,
        sealed TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE certificates_v7 (
        serial TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('root-ca', 'issuing-ca', 'server', 'device', 'bootstrap')),
        device_id TEXT,
        subject TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        pem TEXT NOT NULL,
        revoked_at INTEGER,
        revocation_reason TEXT
      ) STRICT;
      INSERT INTO certificates_v7 SELECT serial, kind, device_id, subject, not_before, not_after, fingerprint, pem, revoked_at, revocation_reason FROM certificates;
      DROP TABLE certificates;
      ALTER TABLE certificates_v7 RENAME TO certificates;
      CREATE INDEX certificates_by_device ON certificates (device_id) WHERE device_id IS NOT NULL;
      CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'device pre-shared keys for DTLS',
    // Only the SecretBox envelope is stored (context device-psk:<id>), never the key.
    sql: `
      CREATE TABLE device_psks (
        device_id TEXT PRIMARY KEY,
        sealed TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 9,
    name: 'queues and device shadows',
    sql: `
      CREATE TABLE queue_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        payload BLOB NOT NULL,
        properties TEXT NOT NULL,
        size INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        visible_at INTEGER NOT NULL,
        deliveries INTEGER NOT NULL,
        receipt TEXT
      ) STRICT;
      CREATE INDEX queue_messages_by_queue ON queue_messages (queue, id);
      CREATE UNIQUE INDEX queue_messages_by_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
      -- Per-queue usage kept by triggers, so the bound check on push is one row read, not a
      -- scan of the queue, whichever process writes.
      CREATE TABLE queue_usage (
        queue TEXT PRIMARY KEY,
        messages INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      ) STRICT;
      CREATE TRIGGER queue_usage_insert AFTER INSERT ON queue_messages BEGIN
        INSERT OR IGNORE INTO queue_usage (queue, messages, bytes) VALUES (NEW.queue, 0, 0);
        UPDATE queue_usage SET messages = messages + 1, bytes = bytes + NEW.size WHERE queue = NEW.queue;
      END;
      CREATE TRIGGER queue_usage_delete AFTER DELETE ON queue_messages BEGIN
        UPDATE queue_usage SET messages = messages - 1, bytes = bytes - OLD.size WHERE queue = OLD.queue;
      END;
      CREATE TRIGGER queue_usage_move AFTER UPDATE OF queue ON queue_messages WHEN NEW.queue <> OLD.queue BEGIN
        UPDATE queue_usage SET messages = messages - 1, bytes = bytes - OLD.size WHERE queue = OLD.queue;
        INSERT OR IGNORE INTO queue_usage (queue, messages, bytes) VALUES (NEW.queue, 0, 0);
        UPDATE queue_usage SET messages = messages + 1, bytes = bytes + NEW.size WHERE queue = NEW.queue;
      END;

      CREATE TABLE shadows (
        device_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        metadata TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'replay protection counters',
    sql: `
      -- core/replay: highest counter per device and stream ('up', 'cmd'), written every K and on clean stop.
      CREATE TABLE replay_counters (
        device_id TEXT NOT NULL,
        stream TEXT NOT NULL CHECK (stream IN ('up', 'cmd')),
        highest INTEGER NOT NULL CHECK (highest >= 0),
        clean INTEGER NOT NULL CHECK (clean IN (0, 1)),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, stream)
      ) STRICT;
    `,
  },
  {
    version: 11,
    name: 'ban list',
    sql: `
      CREATE TABLE bans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('address', 'client-id', 'username', 'certificate')),
        value TEXT NOT NULL,
        reason TEXT NOT NULL,
        expires_at INTEGER,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      -- One row, bumped by triggers on every write whoever the writer, so a running gateway
      -- polls one integer to learn that the CLI or another gateway changed the list.
      CREATE TABLE ban_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation INTEGER NOT NULL
      ) STRICT;
      INSERT INTO ban_generation (id, generation) VALUES (1, 0);
      CREATE TRIGGER bans_insert AFTER INSERT ON bans BEGIN
        UPDATE ban_generation SET generation = generation + 1 WHERE id = 1;
      END;
      CREATE TRIGGER bans_delete AFTER DELETE ON bans BEGIN
        UPDATE ban_generation SET generation = generation + 1 WHERE id = 1;
      END;
    `,
  },
  {
    version: 12,
    name: 'dns query log',
    sql: `
      -- Issue 6, point 4: one row per DNS query, written in batches by the query-log writer and
      -- pruned by age (dns.queryLog.retentionDays). Indexes serve the CLI's filters: by time and
      -- by device over time (rowid rides along). No index by name: with random names it was the
      -- main cost of every insert (bench/BENCHMARKS.md, DNS); name filters scan a time range.
      CREATE TABLE dns_queries (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        client TEXT NOT NULL,
        device_id TEXT,
        segment TEXT,
        transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'doh')),
        name TEXT NOT NULL,
        qtype INTEGER NOT NULL,
        rcode INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('cached', 'forwarded', 'stale', 'blocked', 'refused', 'formerr', 'servfail', 'ratelimited')),
        blocked_list TEXT,
        blocked_rule TEXT,
        latency_us INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX dns_queries_at ON dns_queries (at);
      CREATE INDEX dns_queries_device ON dns_queries (device_id, at) WHERE device_id IS NOT NULL;
    `,
  },
];

function checkOrdering(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new PalisadeError(ErrorCodes.STORE_FAILURE, `migration versions must be increasing integers > 0 (at ${m.version})`);
    }
    previous = m.version;
  }
}

/**
 * Brings the database up to the newest migration and returns the resulting version. A database
 * written by a newer Palisade is refused rather than run against a schema this code does not know.
 */
export function applyMigrations(db: DatabaseSync, migrations: readonly Migration[] = SQLITE_MIGRATIONS): number {
  checkOrdering(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  return transactionFor(db)(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const current = readSchemaVersion(db);
    if (current > latest) {
      throw new PalisadeError(
        ErrorCodes.STORE_FAILURE,
        `database schema version ${current} is newer than this build supports (${latest})`,
        { detail: { current, latest } },
      );
    }
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').all().map((r) => int(r, 'version')));
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      // Every migration not yet recorded, not just those above the highest: work merged in a
      // different order than it was numbered must still reach a database created in between.
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }
    return Math.max(current, latest);
  });
}

export function readSchemaVersion(db: DatabaseSync): number {
  const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations').get();
  return row === undefined ? 0 : int(row, 'version');
}
