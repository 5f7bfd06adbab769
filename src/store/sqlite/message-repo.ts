/**
 * Per-session outbound messages (queued or in flight) and the incoming QoS 2 packet-id set.
 * This is the MQTT hot path: every routed QoS 1/2 message to a persistent session lands here as
 * a batch, so statements are prepared once and each batch is a single transaction (one fsync of
 * the WAL at most, and all-or-nothing if any write fails).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { MessageProperties, MessageRepo, MessageWrite, OutboundState, StoredMessage } from '../../core/ports.ts';
import { attempt, blob, bool, int, intOrNull, json, text, type Row, type Transaction } from './sql-util.ts';

const COLUMNS =
  'client_id, seq, packet_id, state, topic, payload, qos, retain, properties, subscription_ids, expires_at';

function toStoredMessage(row: Row): StoredMessage {
  return {
    clientId: text(row, 'client_id'),
    seq: int(row, 'seq'),
    packetId: intOrNull(row, 'packet_id'),
    state: text(row, 'state') as OutboundState,
    topic: text(row, 'topic'),
    payload: blob(row, 'payload'),
    qos: int(row, 'qos') as StoredMessage['qos'],
    retain: bool(row, 'retain'),
    properties: json<MessageProperties>(row, 'properties'),
    subscriptionIds: json<number[]>(row, 'subscription_ids'),
    expiresAt: intOrNull(row, 'expires_at'),
  };
}

export class SqliteMessageRepo implements MessageRepo {
  readonly #tx: Transaction;
  readonly #put: StatementSync;
  readonly #delete: StatementSync;
  readonly #qos2Add: StatementSync;
  readonly #qos2Remove: StatementSync;
  readonly #list: StatementSync;
  readonly #listQos2: StatementSync;
  readonly #maxSeq: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#put = db.prepare(
      `INSERT INTO stored_messages (${COLUMNS})
       VALUES (:clientId, :seq, :packetId, :state, :topic, :payload, :qos, :retain, :properties, :subscriptionIds, :expiresAt)
       ON CONFLICT (client_id, seq) DO UPDATE SET
         packet_id = excluded.packet_id, state = excluded.state, topic = excluded.topic, payload = excluded.payload,
         qos = excluded.qos, retain = excluded.retain, properties = excluded.properties,
         subscription_ids = excluded.subscription_ids, expires_at = excluded.expires_at`,
    );
    this.#delete = db.prepare('DELETE FROM stored_messages WHERE client_id = ? AND seq = ?');
    this.#qos2Add = db.prepare(
      'INSERT INTO incoming_qos2 (client_id, packet_id) VALUES (?, ?) ON CONFLICT (client_id, packet_id) DO NOTHING',
    );
    this.#qos2Remove = db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?');
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM stored_messages WHERE client_id = ? ORDER BY seq`);
    this.#listQos2 = db.prepare('SELECT packet_id FROM incoming_qos2 WHERE client_id = ? ORDER BY packet_id');
    this.#maxSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM stored_messages WHERE client_id = ?');
  }

  write(batch: readonly MessageWrite[]): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    return attempt('messages.write', () =>
      this.#tx(() => {
        for (const w of batch) this.#apply(w);
      }),
    );
  }

  #apply(w: MessageWrite): void {
    switch (w.kind) {
      case 'put': {
        const m = w.message;
        this.#put.run({
          clientId: m.clientId,
          seq: m.seq,
          packetId: m.packetId,
          state: m.state,
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          retain: m.retain ? 1 : 0,
          properties: JSON.stringify(m.properties),
          subscriptionIds: JSON.stringify(m.subscriptionIds),
          expiresAt: m.expiresAt,
        });
        return;
      }
      case 'delete':
        this.#delete.run(w.clientId, w.seq);
        return;
      case 'qos2-in-add':
        this.#qos2Add.run(w.clientId, w.packetId);
        return;
      case 'qos2-in-remove':
        this.#qos2Remove.run(w.clientId, w.packetId);
        return;
      default: {
        // Reachable only through a cast; throwing here rolls back the whole batch.
        const unknown: never = w;
        throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'unknown message write kind', {
          detail: { write: unknown },
        });
      }
    }
  }

  listForSession(clientId: string): Promise<StoredMessage[]> {
    return attempt('messages.listForSession', () => this.#list.all(clientId).map(toStoredMessage));
  }

  listIncomingQos2(clientId: string): Promise<number[]> {
    return attempt('messages.listIncomingQos2', () => this.#listQos2.all(clientId).map((row) => int(row, 'packet_id')));
  }

  maxSeq(clientId: string): Promise<number> {
    return attempt('messages.maxSeq', () => {
      const row = this.#maxSeq.get(clientId);
      return row === undefined ? 0 : int(row, 'seq');
    });
  }
}
