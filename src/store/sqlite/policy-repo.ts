/**
 * Policy documents (as JSON) and their attachments to segments and devices. Deleting a policy
 * removes its attachments through the foreign key's ON DELETE CASCADE.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import type { PolicyAttachments, PolicyDocument } from '../../core/policy/document.ts';
import type { PolicyRepo, PolicyTarget } from '../../core/ports.ts';
import { attempt, json, text, type Row, type Transaction } from './sql-util.ts';

function toDocument(row: Row): PolicyDocument {
  return json<PolicyDocument>(row, 'document');
}

function checkTarget(target: PolicyTarget): void {
  if ((target.kind !== 'segment' && target.kind !== 'device') || target.id === '') {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `invalid policy target ${JSON.stringify(target)}`);
  }
}

export class SqlitePolicyRepo implements PolicyRepo {
  readonly #tx: Transaction;
  readonly #put: StatementSync;
  readonly #get: StatementSync;
  readonly #exists: StatementSync;
  readonly #list: StatementSync;
  readonly #delete: StatementSync;
  readonly #attach: StatementSync;
  readonly #detach: StatementSync;
  readonly #attachments: StatementSync;

  constructor(db: DatabaseSync, tx: Transaction) {
    this.#tx = tx;
    this.#put = db.prepare(
      `INSERT INTO policies (name, document, updated_at) VALUES (:name, :document, :updatedAt)
       ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
    );
    this.#get = db.prepare('SELECT document FROM policies WHERE name = ?');
    this.#exists = db.prepare('SELECT 1 AS one FROM policies WHERE name = ?');
    this.#list = db.prepare('SELECT document FROM policies ORDER BY name');
    this.#delete = db.prepare('DELETE FROM policies WHERE name = ?');
    this.#attach = db.prepare(
      `INSERT INTO policy_attachments (target_kind, target_id, policy_name) VALUES (?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    this.#detach = db.prepare('DELETE FROM policy_attachments WHERE target_kind = ? AND target_id = ? AND policy_name = ?');
    this.#attachments = db.prepare('SELECT target_kind, target_id, policy_name FROM policy_attachments ORDER BY target_kind, target_id, policy_name');
  }

  put(doc: PolicyDocument): Promise<void> {
    return attempt('policies.put', () => {
      this.#put.run({ name: doc.name, document: JSON.stringify(doc), updatedAt: Date.now() });
    });
  }

  get(name: string): Promise<PolicyDocument | null> {
    return attempt('policies.get', () => {
      const row = this.#get.get(name);
      return row === undefined ? null : toDocument(row);
    });
  }

  list(): Promise<PolicyDocument[]> {
    return attempt('policies.list', () => this.#list.all().map(toDocument));
  }

  delete(name: string): Promise<boolean> {
    return attempt('policies.delete', () => Number(this.#delete.run(name).changes) > 0);
  }

  attach(target: PolicyTarget, policyName: string): Promise<void> {
    return attempt('policies.attach', () =>
      this.#tx(() => {
        checkTarget(target);
        // Checked here rather than left to the foreign key, so the caller gets NOT_FOUND.
        if (this.#exists.get(policyName) === undefined) {
          throw new PalisadeError(ErrorCodes.NOT_FOUND, `policy ${policyName} not found`, { detail: { name: policyName } });
        }
        this.#attach.run(target.kind, target.id, policyName);
      }),
    );
  }

  detach(target: PolicyTarget, policyName: string): Promise<boolean> {
    return attempt('policies.detach', () => Number(this.#detach.run(target.kind, target.id, policyName).changes) > 0);
  }

  attachments(): Promise<PolicyAttachments> {
    return attempt('policies.attachments', () => {
      // Maps, then fromEntries: a target named `__proto__` must stay an ordinary key.
      const maps = { segment: new Map<string, string[]>(), device: new Map<string, string[]>() };
      for (const row of this.#attachments.all()) {
        const map = text(row, 'target_kind') === 'device' ? maps.device : maps.segment;
        const id = text(row, 'target_id');
        const names = map.get(id) ?? [];
        names.push(text(row, 'policy_name'));
        map.set(id, names);
      }
      return { segment: Object.fromEntries(maps.segment), device: Object.fromEntries(maps.device) };
    });
  }
}
