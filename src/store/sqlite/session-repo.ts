/**
 * Persistent MQTT sessions and their subscriptions. Deleting a session also clears everything
 * keyed by its client id in other tables (subscriptions, stored messages, incoming QoS 2 ids);
 * those tables carry no foreign key because core may write them before the session row exists.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SessionRecord, SessionRepo, SubscriptionRecord } from '../../core/ports.ts';
import { attempt, bool, int, intOrNull, text, type Row, type Transaction } from './sql-util.ts';

const SESSION_COLUMNS = 'client_id, principal_id, protocol_version, expiry_interval, disconnected_at, created_at';
const SUB_COLUMNS = 'client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id';

function toSession(row: Row): SessionRecord {
  return {
    clientId: text(row, 'client_id'),
    principalId: text(row, 'principal_id'),
    protocolVersion: int(row, 'protocol_version') as SessionRecord['protocolVersion'],
    expiryInterval: int(row, 'expiry_interval'),
    disconnectedAt: intOrNull(row, 'disconnected_at'),
    createdAt: int(row, 'created_at'),
  };
}

function toSubscription(row: Row): SubscriptionRecord {
  return {
    clientId: text(row, 'client_id'),
    filter: text(row, 'filter'),
    qos: int(row, 'qos') as SubscriptionRecord['qos'],
    noLocal: bool(row, 'no_local'),
    retainAsPublished: bool(row, 'retain_as_published'),
    retainHandling: int(row, 'retain_handling') as SubscriptionRecord['retainHandling'],
    subscriptionId: intOrNull(row, 'subscription_id'),
  };
}

export class SqliteSessionRepo implements SessionRepo {
  readonly #tx: Transaction;
  readonly #save: StatementSync;
  readonly #get: StatementSync;
  readonly #list: StatementSync;
  readonly #deleteCascade: readonly StatementSync[];
  readonly #setSub: StatementSync;
  readonly #removeSub: StatementSync;
  readonly #listSubs: StatementSync;
  readonly #listAllSubs: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#save = db.prepare(
      `INSERT INTO sessions (${SESSION_COLUMNS})
       VALUES (:clientId, :principalId, :protocolVersion, :expiryInterval, :disconnectedAt, :createdAt)
       ON CONFLICT (client_id) DO UPDATE SET
         principal_id = excluded.principal_id, protocol_version = excluded.protocol_version,
         expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at,
         created_at = excluded.created_at`,
    );
    this.#get = db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE client_id = ?`);
    this.#list = db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY client_id`);
    this.#deleteCascade = [
      db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
      db.prepare('DELETE FROM stored_messages WHERE client_id = ?'),
      db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ?'),
      db.prepare('DELETE FROM sessions WHERE client_id = ?'),
    ];
    this.#setSub = db.prepare(
      `INSERT INTO subscriptions (${SUB_COLUMNS})
       VALUES (:clientId, :filter, :qos, :noLocal, :retainAsPublished, :retainHandling, :subscriptionId)
       ON CONFLICT (client_id, filter) DO UPDATE SET
         qos = excluded.qos, no_local = excluded.no_local, retain_as_published = excluded.retain_as_published,
         retain_handling = excluded.retain_handling, subscription_id = excluded.subscription_id`,
    );
    this.#removeSub = db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?');
    this.#listSubs = db.prepare(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE client_id = ? ORDER BY filter`);
    this.#listAllSubs = db.prepare(`SELECT ${SUB_COLUMNS} FROM subscriptions ORDER BY client_id, filter`);
  }

  save(session: SessionRecord): Promise<void> {
    return attempt('sessions.save', () => {
      this.#save.run({
        clientId: session.clientId,
        principalId: session.principalId,
        protocolVersion: session.protocolVersion,
        expiryInterval: session.expiryInterval,
        disconnectedAt: session.disconnectedAt,
        createdAt: session.createdAt,
      });
    });
  }

  get(clientId: string): Promise<SessionRecord | null> {
    return attempt('sessions.get', () => {
      const row = this.#get.get(clientId);
      return row === undefined ? null : toSession(row);
    });
  }

  list(): Promise<SessionRecord[]> {
    return attempt('sessions.list', () => this.#list.all().map(toSession));
  }

  delete(clientId: string): Promise<void> {
    return attempt('sessions.delete', () =>
      this.#tx(() => {
        for (const stmt of this.#deleteCascade) stmt.run(clientId);
      }),
    );
  }

  setSubscription(sub: SubscriptionRecord): Promise<void> {
    return attempt('sessions.setSubscription', () => {
      this.#setSub.run({
        clientId: sub.clientId,
        filter: sub.filter,
        qos: sub.qos,
        noLocal: sub.noLocal ? 1 : 0,
        retainAsPublished: sub.retainAsPublished ? 1 : 0,
        retainHandling: sub.retainHandling,
        subscriptionId: sub.subscriptionId,
      });
    });
  }

  removeSubscription(clientId: string, filter: string): Promise<void> {
    return attempt('sessions.removeSubscription', () => {
      this.#removeSub.run(clientId, filter);
    });
  }

  listSubscriptions(clientId: string): Promise<SubscriptionRecord[]> {
    return attempt('sessions.listSubscriptions', () => this.#listSubs.all(clientId).map(toSubscription));
  }

  listAllSubscriptions(): Promise<SubscriptionRecord[]> {
    return attempt('sessions.listAllSubscriptions', () => this.#listAllSubs.all().map(toSubscription));
  }
}
