/**
 * `palisade device set-password|audit`: device passwords and tokens for devices that cannot
 * hold a certificate (issue 3, point 3). Every credential set here passes the checks of
 * core/identity/credential-checks.ts and is refused when another device already has it,
 * unless --allow-shared. A secret is never echoed except a generated one, printed once.
 */
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { EventLog } from '../core/events/event-log.ts';
import { auditDeviceCredentials } from '../core/identity/credential-audit.ts';
import { setDeviceCredential, setGeneratedDeviceCredential, type CredentialServices } from '../core/identity/credential-set.ts';
import type { Store } from '../core/ports.ts';
import { loadFingerprintKey } from '../store/credential-fingerprint-key.ts';
import { shippedCredentialChecker } from '../store/credential-lists.ts';
import { openSecretBox, type SecretsSettings } from '../store/master-key.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';

interface SetPasswordOptions extends CommonOptions {
  stdin?: boolean;
  generate?: boolean;
  allowShared?: boolean;
}

/** The services credential-set needs, over the data dir's fingerprint key; flush `events` before closing the store. */
export function credentialServices(store: Store, dataDir: string, secrets: SecretsSettings): CredentialServices & { events: EventLog } {
  return { checker: shippedCredentialChecker(), fingerprintKey: loadFingerprintKey(dataDir, openSecretBox(dataDir, secrets)), events: new EventLog(store.events) };
}

/** All of stdin, less one trailing line break (what `echo` and here-strings add). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function warnShared(deviceId: string, others: string[]): void {
  if (others.length > 0) console.error(`palisade: warning: device ${deviceId} now shares its password with ${others.join(', ')} (see palisade device audit)`);
}

export function registerDeviceCredentialCommands(device: Command): void {
  addCommonOptions(device.command('set-password <id>').description('set a device password: from stdin (--stdin) or generated and printed once (--generate); weak, default and shared ones are refused'))
    .option('--stdin', 'read the password from standard input (one trailing newline is dropped)')
    .option('--generate', 'generate a 192-bit password and print it once')
    .option('--allow-shared', 'accept a password another device already has; it is reported as credential.shared')
    .action(async (id: string, opts: SetPasswordOptions) => {
      if (opts.stdin === opts.generate) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'give exactly one of --stdin or --generate');
      const secret = opts.stdin ? await readStdin() : null;
      await withStore(opts, async (store, { config, dataDir }) => {
        const services = credentialServices(store, dataDir, config.secrets);
        try {
          if (secret === null) {
            const generated = await setGeneratedDeviceCredential(store, services, { deviceId: id, actor: 'cli' });
            console.log(`password for device ${id} set; shown once: ${generated}`);
          } else {
            const { sharedWith } = await setDeviceCredential(store, services, { deviceId: id, secret, allowShared: opts.allowShared === true, actor: 'cli' });
            console.log(`password for device ${id} set`);
            warnShared(id, sharedWith);
          }
        } finally {
          await services.events.flush();
        }
      });
    });

  addCommonOptions(device.command('audit').description('report devices sharing a password, devices with no credential, and passwords set before sharing could be detected'))
    .option('--json', 'print the findings as one JSON object')
    .action(async (opts: CommonOptions & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const audit = await auditDeviceCredentials(store);
        if (opts.json) {
          console.log(JSON.stringify(audit));
          return;
        }
        for (const group of audit.shared) console.log(`shared password: ${group.join(', ')}`);
        for (const id of audit.noCredential) console.log(`no credential: ${id}`);
        for (const id of audit.unfingerprinted) console.log(`password not comparable (set before sharing checks; set it again): ${id}`);
        const n = audit.shared.length + audit.noCredential.length + audit.unfingerprinted.length;
        console.log(n === 0 ? 'no findings' : `${n} finding(s)`);
      });
    });
}
