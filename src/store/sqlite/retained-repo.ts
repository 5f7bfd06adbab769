/**
 * Retained messages, one per topic. Expiry is stored, not enforced: core decides when an
 * expired message stops being delivered and deletes it.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { MessageProperties, RetainedMessage, RetainedRepo } from '../../core/ports.ts';
import { attempt, blob, int, intOrNull, json, text, type Row } from './sql-util.ts';

const COLUMNS = 'topic, payload, qos, properties, expires_at, stored_at';

function toRetained(row: Row): RetainedMessage {
  return {
    topic: text(row, 'topic'),
    payload: blob(row, 'payload'),
    qos: int(row, 'qos') as RetainedMessage['qos'],
    properties: json<MessageProperties>(row, 'properties'),
    expiresAt: intOrNull(row, 'expires_at'),
    storedAt: int(row, 'stored_at'),
  };
}

export class SqliteRetainedRepo implements RetainedRepo {
  readonly #set: StatementSync;
  readonly #delete: StatementSync;
  readonly #get: StatementSync;
  readonly #list: StatementSync;

  constructor(db: DatabaseSync) {
    this.#set = db.prepare(
      `INSERT INTO retained (${COLUMNS}) VALUES (:topic, :payload, :qos, :properties, :expiresAt, :storedAt)
       ON CONFLICT (topic) DO UPDATE SET
         payload = excluded.payload, qos = excluded.qos, properties = excluded.properties,
         expires_at = excluded.expires_at, stored_at = excluded.stored_at`,
    );
    this.#delete = db.prepare('DELETE FROM retained WHERE topic = ?');
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM retained WHERE topic = ?`);
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM retained ORDER BY topic`);
  }

  set(message: RetainedMessage): Promise<void> {
    return attempt('retained.set', () => {
      this.#set.run({
        topic: message.topic,
        payload: message.payload,
        qos: message.qos,
        properties: JSON.stringify(message.properties),
        expiresAt: message.expiresAt,
        storedAt: message.storedAt,
      });
    });
  }

  delete(topic: string): Promise<void> {
    return attempt('retained.delete', () => {
      this.#delete.run(topic);
    });
  }

  get(topic: string): Promise<RetainedMessage | null> {
    return attempt('retained.get', () => {
      const row = this.#get.get(topic);
      return row === undefined ? null : toRetained(row);
    });
  }

  list(): Promise<RetainedMessage[]> {
    return attempt('retained.list', () => this.#list.all().map(toRetained));
  }
}
