/**
 * `palisade cert sign|revoke|list`: CSR signing and revocation from the command line. A running gateway notices a
 * revocation within a quarter second, closes the sessions that used the certificate and puts
 * it on the CRL it serves at /pki/crl.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { normalizeSerial } from '../core/fleet/register-device.ts';
import { CRL_REASONS } from '../core/pki/crl.ts';
import type { CertificateRecord } from '../core/ports.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';
import { parseDays, withEnrollment } from './enroll.ts';


function line(c: CertificateRecord): string {
  const state = c.revokedAt === null ? (c.notAfter < Date.now() ? 'expired' : 'valid') : `revoked ${new Date(c.revokedAt).toISOString()} (${c.revocationReason ?? 'unspecified'})`;
  return `${c.serial}\t${c.kind}\t${c.deviceId ?? '-'}\t${new Date(c.notAfter).toISOString()}\t${state}`;
}

export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('list and revoke certificates');

  addCommonOptions(cert.command('revoke [serial]').description('revoke a certificate by serial, or every certificate of a device'))
    .option('--device <id>', 'revoke every valid certificate of this device')
    .option('--reason <reason>', `one of ${CRL_REASONS.join(', ')}`, 'unspecified')
    .action(async (serial: string | undefined, opts: CommonOptions & { device?: string; reason: string }) => {
      if (!CRL_REASONS.includes(opts.reason)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `--reason must be one of ${CRL_REASONS.join(', ')}`);
      if ((serial === undefined) === (opts.device === undefined)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'give a serial or --device, not both');
      await withStore(opts, async (store) => {
        const targets = serial !== undefined ? [normalizeSerial(serial)] : (await store.certificates.listByDevice(opts.device!)).filter((c) => c.revokedAt === null).map((c) => c.serial);
        if (targets.length === 0) throw new PalisadeError(ErrorCodes.NOT_FOUND, `device ${opts.device ?? ''} has no valid certificate`);
        for (const s of targets) {
          const record = await store.certificates.get(s);
          if (!record) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no certificate with serial ${s}`);
          if (record.kind === 'root-ca' || record.kind === 'issuing-ca') throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `certificate ${s} is a CA certificate; rotate the CA instead`);
          const done = await store.certificates.revoke(s, Date.now(), opts.reason);
          console.log(done ? `revoked ${s} (${record.deviceId ?? record.kind})` : `${s} was already revoked`);
        }
      });
    });

  addCommonOptions(cert.command('sign <csr>').description('sign a device\'s PKCS#10 CSR (PEM): the key stays on the device; identity comes from --device, never from the CSR'))
    .requiredOption('--device <id>', 'the registered device the certificate is for')
    .option('--days <n>', 'lifetime in days (default pki.deviceCertDays, 30)')
    .option('-o, --out <file>', 'write the certificate here instead of stdout')
    .action(async (csrPath: string, opts: CommonOptions & { device: string; days?: string; out?: string }) => {
      let csrPem: string;
      try {
        csrPem = readFileSync(csrPath, 'utf8');
      } catch {
        throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `cannot read CSR file ${csrPath}`);
      }
      await withEnrollment(opts, async ({ service }) => {
        const days = parseDays(opts.days, service.settings.deviceCertDays);
        const { certificate } = await service.signCsr({ deviceId: opts.device, csrPem, days, actor: 'cli' });
        if (opts.out === undefined) {
          process.stdout.write(certificate.certPem);
        } else {
          writeFileSync(opts.out, certificate.certPem);
          console.log(`certificate ${certificate.serial} for device ${opts.device}, expires ${new Date(certificate.notAfter).toISOString()}; written to ${opts.out}`);
        }
      });
    });

  addCommonOptions(cert.command('list').description('list certificates: serial, kind, device, expiry, state'))
    .option('--device <id>', 'only this device')
    .action(async (opts: CommonOptions & { device?: string }) => {
      await withStore(opts, async (store) => {
        const list = opts.device !== undefined ? await store.certificates.listByDevice(opts.device) : [...(await store.certificates.listRevoked())];
        if (opts.device === undefined) console.log('# revoked certificates (use --device ID for all of one device)');
        for (const c of list) console.log(line(c));
      });
    });
}
