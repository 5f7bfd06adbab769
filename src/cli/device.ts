/** `palisade device add|list|set-password|audit`: the device registry from the command line. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { registerDeviceMoveCommands } from './device-move.ts';
import { registerDevicePskCommand } from './device-psk.ts';
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { registerDevice } from '../core/fleet/register-device.ts';
import { chainPem } from '../core/pki/index.ts';
import { openSecretBox } from '../store/master-key.ts';
import { ensurePki } from '../store/pki-files.ts';
import { defaultHostnames } from '../gateway.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';
import { credentialServices, registerDeviceCredentialCommands } from './device-credentials.ts';
import { setGeneratedDeviceCredential } from '../core/identity/credential-set.ts';

interface AddOptions extends CommonOptions {
  segment: string;
  out?: string;
  password?: boolean;
  days?: string;
}


export function registerDeviceCommands(program: Command): void {
  const device = program.command('device').description('register and list devices');
  registerDeviceMoveCommands(device);
  registerDeviceCredentialCommands(device);
  registerDevicePskCommand(device);

  addCommonOptions(device.command('add <name>').description('register a device and write its credentials'))
    .requiredOption('-s, --segment <segment>', 'the segment the device belongs to')
    .option('-o, --out <dir>', 'where to write cert.pem, key.pem and ca.pem (default ./<name>-creds)')
    .option('--password', 'also generate a password (username = device id) for devices without a certificate')
    .option('--days <n>', 'certificate lifetime in days', '30')
    .action(async (name: string, opts: AddOptions) => {
      const days = Number(opts.days ?? '30');
      if (!Number.isInteger(days) || days < 1 || days > 825) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, '--days must be an integer from 1 to 825');
      await withStore(opts, async (store, { config, dataDir }) => {
        const hostnames = config.hostnames.length > 0 ? config.hostnames : defaultHostnames();
        const pki = await ensurePki(dataDir, hostnames, store, openSecretBox(dataDir, config.secrets));
        const { certificate } = await registerDevice(store, pki.ca, { id: name, segment: opts.segment, days });
        // The password goes through the same checks, fingerprint and events as set-password.
        let password: string | null = null;
        if (opts.password === true) {
          const services = credentialServices(store, dataDir, config.secrets);
          password = await setGeneratedDeviceCredential(store, services, { deviceId: name, actor: 'cli' });
          await services.events.flush();
        }
        const out = resolve(opts.out ?? `${name}-creds`);
        mkdirSync(out, { recursive: true, mode: 0o700 });
        writeFileSync(join(out, 'cert.pem'), certificate.certPem);
        writeFileSync(join(out, 'key.pem'), certificate.keyPem, { mode: 0o600 });
        writeFileSync(join(out, 'ca.pem'), chainPem(pki.ca));
        if (password) writeFileSync(join(out, 'password'), password, { mode: 0o600 });
        console.log(`device ${name} added to segment ${opts.segment}; credentials in ${out} (cert.pem, key.pem, ca.pem${password ? ', password' : ''})`);
        if (password) console.log(`password (shown once): ${password}`);
      });
    });

  addCommonOptions(device.command('list').description('list registered devices'))
    .option('-s, --segment <segment>', 'only this segment')
    .action(async (opts: CommonOptions & { segment?: string }) => {
      await withStore(opts, async (store) => {
        const devices = await store.devices.list(opts.segment === undefined ? {} : { segment: opts.segment });
        for (const d of devices) console.log(`${d.id}\t${d.segment}\t${d.status}\t${d.passwordHash ? 'cert+password' : 'cert'}`);
      });
    });
}
