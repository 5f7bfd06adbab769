/**
 * `palisade policy lint|put|attach|detach|list|show|delete`: policy documents and their
 * attachments in the store. Files are JSON (`.json`) or YAML (anything else); a file holds one
 * document, or a bundle `{ policies: [...], attachments: { segment: {...}, device: {...} } }`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, PalisadeError } from '../core/errors.ts';
import { BUILTIN_POLICIES, isBuiltinPolicy } from '../core/policy/builtin.ts';
import { parsePolicyConfig, parsePolicyDocument, type PolicyAttachments, type PolicyDocument } from '../core/policy/document.ts';
import { validatePolicyConfig } from '../core/policy/engine.ts';
import { formatFinding, lintPolicies, type LintFinding } from '../core/policy/lint.ts';
import { mergePolicyConfigs } from '../core/policy/sources.ts';
import type { PolicyTarget } from '../core/ports.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';

interface TargetOptions extends CommonOptions {
  segment?: string;
  device?: string;
}


/** The parsed (not yet validated) content of a policy file. */
function readPolicyFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${file}: cannot read (${err instanceof Error && 'code' in err ? String(err.code) : 'error'})`);
  }
  try {
    return file.endsWith('.json') ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : 'parse error';
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${why}`);
  }
}

function isBundle(value: unknown): value is { policies: unknown; attachments?: unknown } {
  return typeof value === 'object' && value !== null && 'policies' in value;
}

function target(opts: TargetOptions): PolicyTarget {
  if ((opts.segment === undefined) === (opts.device === undefined)) {
    throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'name exactly one of --segment SEGMENT or --device DEVICE');
  }
  return opts.segment !== undefined ? { kind: 'segment', id: opts.segment } : { kind: 'device', id: opts.device ?? '' };
}

function summarize(findings: readonly LintFinding[]): { errors: number; warnings: number } {
  const errors = findings.filter((f) => f.level === 'error').length;
  return { errors, warnings: findings.length - errors };
}

function attachedTo(name: string, a: PolicyAttachments): string {
  const pick = (m: Record<string, string[]>): string[] => Object.keys(m).filter((k) => (m[k] ?? []).includes(name)).sort();
  const segments = pick(a.segment);
  const devices = pick(a.device);
  return `segments: ${segments.join(',') || '-'}\tdevices: ${devices.join(',') || '-'}`;
}

/** Findings for a set of files; unreadable or invalid files become error findings, not exceptions. */
function lintFiles(files: string[]): LintFinding[] {
  const policies: unknown[] = [];
  const bundles: PolicyAttachments[] = [];
  const findings: LintFinding[] = [];
  for (const file of files) {
    try {
      const content = readPolicyFile(file);
      if (isBundle(content)) {
        // Attachments are validated here; the documents by lintPolicies, one finding each.
        bundles.push(parsePolicyConfig({ policies: [], attachments: content.attachments }).attachments);
        policies.push(...(Array.isArray(content.policies) ? (content.policies as unknown[]) : [content.policies]));
      } else policies.push(content);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      findings.push({ level: 'error', code: 'invalid-document', policy: file, sid: null, message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message });
    }
  }
  const attachments = bundles.length === 0 ? undefined : mergePolicyConfigs(...bundles.map((a) => ({ policies: [], attachments: a }))).attachments;
  return [...findings, ...lintPolicies(attachments === undefined ? { policies } : { policies, attachments })];
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('zero-trust policies: lint, store, attach to segments and devices');

  addCommonOptions(
    policy
      .command('lint [files...]')
      .description('check policy files (or, without files, the stored policies) for over-broad grants, wildcards in denies and other mistakes; exits 1 on errors'),
  ).action(async (files: string[], opts: CommonOptions) => {
    const findings =
      files.length > 0
        ? lintFiles(files)
        : await withStore(opts, async (store) => lintPolicies({ policies: await store.policies.list(), attachments: await store.policies.attachments() }));
    for (const f of findings) console.log(formatFinding(f));
    const { errors, warnings } = summarize(findings);
    if (errors > 0) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `policy lint: ${errors} error(s), ${warnings} warning(s)`);
    console.log(`policy lint: no errors, ${warnings} warning(s)`);
  });

  addCommonOptions(policy.command('put <file>').description('store a policy document (replacing one of the same name); refused on lint errors unless --force'))
    .option('--force', 'store even when lint reports errors')
    .action(async (file: string, opts: CommonOptions & { force?: boolean }) => {
      const doc = parsePolicyDocument(readPolicyFile(file));
      if (isBuiltinPolicy(doc.name)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `policy ${doc.name}: the name is reserved for a built-in policy`);
      await withStore(opts, async (store) => {
        const others = (await store.policies.list()).filter((p) => p.name !== doc.name);
        const attachments = await store.policies.attachments();
        const policies: PolicyDocument[] = [...others, doc];
        validatePolicyConfig({ policies, attachments });
        // Attaching comes after putting, so "not attached yet" is no news here.
        const findings = lintPolicies({ policies: [doc], attachments }).filter((f) => f.code !== 'unattached');
        for (const f of findings) console.log(formatFinding(f));
        const { errors } = summarize(findings);
        if (errors > 0 && opts.force !== true) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `policy ${doc.name}: not stored, lint found ${errors} error(s) (use --force to store anyway)`);
        await store.policies.put(doc);
        console.log(`policy ${doc.name} stored (${doc.statements.length} statement(s))`);
      });
    });

  addCommonOptions(policy.command('attach <name>').description('attach a stored policy to a segment or a device'))
    .option('-s, --segment <segment>', 'every device in this segment')
    .option('--device <device>', 'this device')
    .action(async (name: string, opts: TargetOptions) => {
      const t = target(opts);
      await withStore(opts, async (store) => {
        await store.policies.attach(t, name);
        console.log(`policy ${name} attached to ${t.kind} ${t.id}`);
      });
    });

  addCommonOptions(policy.command('detach <name>').description('detach a policy from a segment or a device'))
    .option('-s, --segment <segment>', 'the segment')
    .option('--device <device>', 'the device')
    .action(async (name: string, opts: TargetOptions) => {
      const t = target(opts);
      await withStore(opts, async (store) => {
        if (!(await store.policies.detach(t, name))) throw new PalisadeError(ErrorCodes.NOT_FOUND, `policy ${name} is not attached to ${t.kind} ${t.id}`);
        console.log(`policy ${name} detached from ${t.kind} ${t.id}`);
      });
    });

  addCommonOptions(policy.command('list').description('list built-in and stored policies with where they are attached')).action(async (opts: CommonOptions) => {
    await withStore(opts, async (store) => {
      for (const b of BUILTIN_POLICIES) console.log(`${b.name}\t${b.statements.length} statement(s)\tbuilt-in`);
      const attachments = await store.policies.attachments();
      for (const p of await store.policies.list()) console.log(`${p.name}\t${p.statements.length} statement(s)\t${attachedTo(p.name, attachments)}`);
    });
  });

  addCommonOptions(policy.command('show <name>').description('print a policy document as JSON')).action(async (name: string, opts: CommonOptions) => {
    const builtin = BUILTIN_POLICIES.find((b) => b.name === name);
    const doc = builtin ?? (await withStore(opts, (store) => store.policies.get(name)));
    if (!doc) throw new PalisadeError(ErrorCodes.NOT_FOUND, `policy ${name} not found`);
    console.log(JSON.stringify(doc, null, 2));
  });

  addCommonOptions(policy.command('delete <name>').description('delete a stored policy and its attachments')).action(async (name: string, opts: CommonOptions) => {
    await withStore(opts, async (store) => {
      if (!(await store.policies.delete(name))) throw new PalisadeError(ErrorCodes.NOT_FOUND, `policy ${name} not found`);
      console.log(`policy ${name} deleted`);
    });
  });
}
