/**
 * `palisade enroll token|bootstrap|list|revoke`: authorising devices to enroll themselves, so
 * their private key never leaves them (issue 3, point 1). A device then sends a CSR to EST
 * (`/.well-known/est/simpleenroll`) or `POST /api/v1/enroll` on the HTTPS listener.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EventLog } from '../core/events/event-log.ts';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { EnrollmentService } from '../core/enrollment/service.ts';
import { chainPem } from '../core/pki/index.ts';
import type { Store } from '../core/ports.ts';
import { defaultHostnames } from '../gateway.ts';
import { openSecretBox } from '../store/master-key.ts';
import { ensurePki } from '../store/pki-files.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';

export interface EnrollmentContext {
  service: EnrollmentService;
  store: Store;
  caChainPem: string;
}

/** Runs `fn` with an EnrollmentService over the data dir's store and CA; events are flushed after. */
export async function withEnrollment<T>(opts: CommonOptions, fn: (ctx: EnrollmentContext) => Promise<T>): Promise<T> {
  return withStore(opts, async (store, { config, dataDir }) => {
    const secrets = openSecretBox(dataDir, config.secrets);
    const pki = await ensurePki(dataDir, config.hostnames.length > 0 ? config.hostnames : defaultHostnames(), store, secrets);
    const events = new EventLog(store.events);
    const service = new EnrollmentService({ store, events, ca: pki.ca, secrets, settings: config.pki });
    try {
      return await fn({ service, store, caChainPem: chainPem(pki.ca) });
    } finally {
      await events.flush();
    }
  });
}

const TTL_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90m", "24h", "7d" → milliseconds. */
export function parseTtl(ttl: string): number {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(ttl);
  const unit = m?.[2] === undefined ? undefined : TTL_UNITS[m[2]];
  if (m?.[1] === undefined || unit === undefined) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, '--ttl must look like 30m, 24h or 7d');
  return Number(m[1]) * unit;
}

export function parseDays(days: string | undefined, fallback: number): number {
  if (days === undefined) return fallback;
  const n = Number(days);
  if (!Number.isInteger(n) || n < 1 || n > 825) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, '--days must be an integer from 1 to 825');
  return n;
}

const OPERATOR = 'cli';

export function registerEnrollCommands(program: Command): void {
  const enroll = program.command('enroll').description('let devices enroll with their own key: one-time tokens and bootstrap certificates');

  addCommonOptions(enroll.command('token').description('create a one-time enrollment token for a device (registering it when new); printed once'))
    .requiredOption('--device <id>', 'the device the token enrolls')
    .option('-s, --segment <segment>', 'segment for a device not yet registered')
    .option('--ttl <duration>', 'how long the token stays valid: 30m, 24h, 7d', '24h')
    .action(async (opts: CommonOptions & { device: string; segment?: string; ttl: string }) => {
      const ttlMs = parseTtl(opts.ttl);
      await withEnrollment(opts, async ({ service }) => {
        const { token, record, registered } = await service.createToken({ deviceId: opts.device, ...(opts.segment === undefined ? {} : { segment: opts.segment }), ttlMs, actor: OPERATOR });
        if (registered) console.log(`device ${record.deviceId} registered in segment ${record.segment}`);
        console.log(`enrollment token ${record.id} for device ${record.deviceId}, single use, expires ${new Date(record.expiresAt).toISOString()}`);
        console.log(`token (shown once): ${token}`);
      });
    });

  addCommonOptions(enroll.command('bootstrap').description('issue a bootstrap certificate that can do nothing but enroll its device (EST simpleenroll)'))
    .requiredOption('--device <id>', 'the device the certificate may enroll')
    .option('-s, --segment <segment>', 'segment for a device not yet registered')
    .option('--days <n>', 'lifetime in days', '7')
    .option('-o, --out <dir>', 'where to write bootstrap-cert.pem, bootstrap-key.pem and ca.pem (default ./<id>-bootstrap)')
    .action(async (opts: CommonOptions & { device: string; segment?: string; days?: string; out?: string }) => {
      const days = parseDays(opts.days, 7);
      await withEnrollment(opts, async ({ service, caChainPem }) => {
        const { certificate, registered } = await service.issueBootstrap({ deviceId: opts.device, ...(opts.segment === undefined ? {} : { segment: opts.segment }), days, actor: OPERATOR });
        const out = resolve(opts.out ?? `${opts.device}-bootstrap`);
        mkdirSync(out, { recursive: true, mode: 0o700 });
        writeFileSync(join(out, 'bootstrap-cert.pem'), certificate.certPem);
        writeFileSync(join(out, 'bootstrap-key.pem'), certificate.keyPem, { mode: 0o600 });
        writeFileSync(join(out, 'ca.pem'), caChainPem);
        if (registered) console.log(`device ${opts.device} registered`);
        console.log(`bootstrap certificate ${certificate.serial} for device ${opts.device}, expires ${new Date(certificate.notAfter).toISOString()}; in ${out} (bootstrap-cert.pem, bootstrap-key.pem, ca.pem)`);
      });
    });

  addCommonOptions(enroll.command('list').description('list enrollment tokens: id, device, expiry, state (never the token)'))
    .option('--device <id>', 'only this device')
    .action(async (opts: CommonOptions & { device?: string }) => {
      await withStore(opts, async (store) => {
        const now = Date.now();
        for (const t of await store.enrollment.listTokens(opts.device === undefined ? {} : { deviceId: opts.device })) {
          const state = t.usedAt !== null ? `used ${new Date(t.usedAt).toISOString()} for ${t.usedFor ?? '?'}` : t.expiresAt <= now ? 'expired' : 'unused';
          console.log(`${t.id}\t${t.deviceId}\t${new Date(t.expiresAt).toISOString()}\t${state}`);
        }
      });
    });

  addCommonOptions(enroll.command('revoke <tokenId>').description('delete an enrollment token so it can no longer be used'))
    .action(async (tokenId: string, opts: CommonOptions) => {
      await withStore(opts, async (store) => {
        if (!(await store.enrollment.deleteToken(tokenId))) throw new PalisadeError(ErrorCodes.NOT_FOUND, `no enrollment token ${tokenId}`);
        const events = new EventLog(store.events);
        events.record('enroll.token_revoked', 'info', { principal: OPERATOR, detail: { tokenId } });
        await events.flush();
        console.log(`enrollment token ${tokenId} revoked`);
      });
    });
}
