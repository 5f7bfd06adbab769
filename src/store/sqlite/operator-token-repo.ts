/** Session and API tokens of operators (core/operators): only SHA-256 hashes are stored. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { OperatorToken, OperatorTokenRepo, Scope, TokenKind } from '../../core/operators/index.ts';
import { attempt, int, intOrNull, json, text, type Row } from './sql-util.ts';

const COLUMNS = 'id, operator, kind, hash, name, scopes, created_at, expires_at, revoked_at';

function toToken(row: Row): OperatorToken {
  return {
    id: text(row, 'id'),
    operator: text(row, 'operator'),
    kind: text(row, 'kind') as TokenKind,
    hash: text(row, 'hash'),
    name: text(row, 'name'),
    scopes: json<Scope[]>(row, 'scopes'),
    createdAt: int(row, 'created_at'),
    expiresAt: int(row, 'expires_at'),
    revokedAt: intOrNull(row, 'revoked_at'),
  };
}

export class SqliteOperatorTokenRepo implements OperatorTokenRepo {
  readonly #insert: StatementSync;
  readonly #get: StatementSync;
  readonly #getByHash: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listByOperator: StatementSync;
  readonly #revoke: StatementSync;
  readonly #revokeAll: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(`INSERT INTO operator_tokens (${COLUMNS}) VALUES (:id, :operator, :kind, :hash, :name, :scopes, :createdAt, :expiresAt, :revokedAt) ON CONFLICT DO NOTHING`);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM operator_tokens WHERE id = ?`);
    this.#getByHash = db.prepare(`SELECT ${COLUMNS} FROM operator_tokens WHERE hash = ?`);
    this.#listAll = db.prepare(`SELECT ${COLUMNS} FROM operator_tokens ORDER BY created_at DESC, id`);
    this.#listByOperator = db.prepare(`SELECT ${COLUMNS} FROM operator_tokens WHERE operator = ? ORDER BY created_at DESC, id`);
    this.#revoke = db.prepare('UPDATE operator_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#revokeAll = db.prepare('UPDATE operator_tokens SET revoked_at = ? WHERE operator = ? AND revoked_at IS NULL');
  }

  create(t: OperatorToken): Promise<void> {
    return attempt('operatorTokens.create', () => {
      const r = this.#insert.run({ id: t.id, operator: t.operator, kind: t.kind, hash: t.hash, name: t.name, scopes: JSON.stringify(t.scopes), createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt });
      if (Number(r.changes) === 0) throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `token ${t.id} already exists`);
    });
  }

  get(id: string): Promise<OperatorToken | null> {
    return attempt('operatorTokens.get', () => {
      const row = this.#get.get(id);
      return row === undefined ? null : toToken(row);
    });
  }

  getByHash(hash: string): Promise<OperatorToken | null> {
    return attempt('operatorTokens.getByHash', () => {
      const row = this.#getByHash.get(hash);
      return row === undefined ? null : toToken(row);
    });
  }

  list(filter: { operator?: string; kind?: TokenKind } = {}): Promise<OperatorToken[]> {
    return attempt('operatorTokens.list', () => {
      const rows = filter.operator === undefined ? this.#listAll.all() : this.#listByOperator.all(filter.operator);
      return rows.map(toToken).filter((t) => filter.kind === undefined || t.kind === filter.kind);
    });
  }

  revoke(id: string, at: number): Promise<boolean> {
    return attempt('operatorTokens.revoke', () => Number(this.#revoke.run(at, id).changes) > 0);
  }

  revokeAllFor(operator: string, at: number): Promise<number> {
    return attempt('operatorTokens.revokeAllFor', () => Number(this.#revokeAll.run(at, operator).changes));
  }
}
