/**
 * Operator accounts (core/operators). The TOTP replay guard is one guarded UPDATE, so two
 * logins racing with the same code cannot both win; first-admin creation is one guarded
 * INSERT, so two setups racing with the secret cannot both create an admin.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { MfaState, Operator, OperatorPatch, OperatorRepo, OperatorRole, OperatorStatus } from '../../core/operators/index.ts';
import { attempt, int, intOrNull, text, textOrNull, type Row } from './sql-util.ts';

const COLUMNS = 'username, role, status, password_hash, totp_sealed, mfa, totp_last_step, created_at, created_by';

function toOperator(row: Row): Operator {
  return {
    username: text(row, 'username'),
    role: text(row, 'role') as OperatorRole,
    status: text(row, 'status') as OperatorStatus,
    passwordHash: text(row, 'password_hash'),
    totpSealed: textOrNull(row, 'totp_sealed'),
    mfa: text(row, 'mfa') as MfaState,
    totpLastStep: intOrNull(row, 'totp_last_step'),
    createdAt: int(row, 'created_at'),
    createdBy: textOrNull(row, 'created_by'),
  };
}

const PATCH_COLUMNS: Record<keyof OperatorPatch, string> = {
  role: 'role',
  status: 'status',
  passwordHash: 'password_hash',
  totpSealed: 'totp_sealed',
  mfa: 'mfa',
  totpLastStep: 'totp_last_step',
};

function params(op: Operator): Record<string, string | number | null> {
  return { username: op.username, role: op.role, status: op.status, passwordHash: op.passwordHash, totpSealed: op.totpSealed, mfa: op.mfa, totpLastStep: op.totpLastStep, createdAt: op.createdAt, createdBy: op.createdBy };
}

const VALUES = ':username, :role, :status, :passwordHash, :totpSealed, :mfa, :totpLastStep, :createdAt, :createdBy';

export class SqliteOperatorRepo implements OperatorRepo {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertFirst: StatementSync;
  readonly #get: StatementSync;
  readonly #list: StatementSync;
  readonly #count: StatementSync;
  readonly #useStep: StatementSync;
  readonly #delete: StatementSync;
  readonly #seeds: StatementSync;
  readonly #replaceSeed: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(`INSERT INTO operators (${COLUMNS}) VALUES (${VALUES}) ON CONFLICT (username) DO NOTHING`);
    this.#insertFirst = db.prepare(`INSERT INTO operators (${COLUMNS}) SELECT ${VALUES} WHERE NOT EXISTS (SELECT 1 FROM operators)`);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM operators WHERE username = ?`);
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM operators ORDER BY username`);
    this.#count = db.prepare('SELECT COUNT(*) AS n FROM operators');
    this.#useStep = db.prepare('UPDATE operators SET totp_last_step = ? WHERE username = ? AND (totp_last_step IS NULL OR totp_last_step < ?)');
    this.#delete = db.prepare('DELETE FROM operators WHERE username = ?');
    this.#seeds = db.prepare('SELECT username, totp_sealed FROM operators WHERE totp_sealed IS NOT NULL ORDER BY username');
    this.#replaceSeed = db.prepare('UPDATE operators SET totp_sealed = ? WHERE username = ? AND totp_sealed = ?');
  }

  create(op: Operator): Promise<void> {
    return attempt('operators.create', () => {
      if (Number(this.#insert.run(params(op)).changes) === 0) throw new PalisadeError(ErrorCodes.ALREADY_EXISTS, `operator ${op.username} already exists`, { detail: { username: op.username } });
    });
  }

  createFirst(op: Operator): Promise<boolean> {
    return attempt('operators.createFirst', () => Number(this.#insertFirst.run(params(op)).changes) > 0);
  }

  get(username: string): Promise<Operator | null> {
    return attempt('operators.get', () => {
      const row = this.#get.get(username);
      return row === undefined ? null : toOperator(row);
    });
  }

  list(): Promise<Operator[]> {
    return attempt('operators.list', () => this.#list.all().map(toOperator));
  }

  count(): Promise<number> {
    return attempt('operators.count', () => int(this.#count.get() ?? {}, 'n'));
  }

  update(username: string, patch: OperatorPatch): Promise<boolean> {
    return attempt('operators.update', () => {
      const keys = (Object.keys(patch) as Array<keyof OperatorPatch>).filter((k) => patch[k] !== undefined);
      if (keys.length === 0) return this.#get.get(username) !== undefined;
      const sets = keys.map((k) => `${PATCH_COLUMNS[k]} = :${k}`).join(', ');
      const values: Record<string, string | number | null> = { username };
      for (const k of keys) values[k] = patch[k] ?? null;
      return Number(this.#db.prepare(`UPDATE operators SET ${sets} WHERE username = :username`).run(values).changes) > 0;
    });
  }

  useTotpStep(username: string, step: number): Promise<boolean> {
    return attempt('operators.useTotpStep', () => Number(this.#useStep.run(step, username, step).changes) > 0);
  }

  delete(username: string): Promise<boolean> {
    return attempt('operators.delete', () => Number(this.#delete.run(username).changes) > 0);
  }

  listSealedSeeds(): Promise<Array<{ username: string; sealed: string }>> {
    return attempt('operators.listSealedSeeds', () => this.#seeds.all().map((r) => ({ username: text(r, 'username'), sealed: text(r, 'totp_sealed') })));
  }

  replaceSealedSeed(username: string, previous: string, next: string): Promise<boolean> {
    return attempt('operators.replaceSealedSeed', () => Number(this.#replaceSeed.run(next, username, previous).changes) > 0);
  }
}
