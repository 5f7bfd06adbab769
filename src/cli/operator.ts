/**
 * `palisade operator list|reset-mfa`: operator accounts from the gateway host. Day-to-day
 * management is the admin API; this is for the host's owner, notably the break-glass reset of
 * an operator (even the only admin) who lost their authenticator (core/operators/recovery.ts).
 */
import type { Command } from 'commander';
import { EventLog } from '../core/events/event-log.ts';
import { resetOperatorMfa } from '../core/operators/recovery.ts';
import { addCommonOptions, cliActor, withStore, type CommonOptions } from './common.ts';

export function registerOperatorCommands(program: Command): void {
  const operator = program.command('operator').description('operator accounts on this host: list, break-glass MFA reset');

  addCommonOptions(operator.command('list').description('list operators: username, role, status, MFA')).action(async (opts: CommonOptions) => {
    await withStore(opts, async (store) => {
      for (const op of await store.operators.list()) console.log(`${op.username}\t${op.role}\t${op.status}\tmfa ${op.mfa}`);
    });
  });

  addCommonOptions(operator.command('reset-mfa <username>').description('new password (shown once), TOTP cleared, every session and token revoked; the operator must enrol TOTP again'))
    .action(async (username: string, opts: CommonOptions) => {
      await withStore(opts, async (store) => {
        const events = new EventLog(store.events);
        const reset = await resetOperatorMfa({ operators: store.operators, tokens: store.operatorTokens, events }, username, cliActor());
        await events.flush();
        console.log(`operator ${reset.username}: TOTP cleared, ${reset.tokensRevoked} session(s)/token(s) revoked`);
        console.log(`new password (shown once): ${reset.password}`);
        console.log('next: POST /api/v1/auth/enroll with this password, confirm with a code, then log in');
      });
    });
}
