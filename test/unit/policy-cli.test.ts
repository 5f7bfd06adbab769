/**
 * `palisade policy ...`, in process: a Commander program with only the policy commands (main.ts
 * registers them for the real CLI), console output captured, a real SQLite store in a temp dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerPolicyCommands } from '../../src/cli/policy.ts';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-policy-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function palisade(args: string[]): Promise<{ out: string[]; error: PalisadeError | null }> {
  const program = new Command().name('palisade').exitOverride();
  registerPolicyCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    out.push(String(line));
  });
  try {
    await program.parseAsync(['node', 'palisade', ...args]);
    return { out, error: null };
  } catch (err) {
    if (err instanceof PalisadeError) return { out, error: err };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const cams = { name: 'cams', version: '2026-11', statements: [{ sid: 'tele', effect: 'allow', actions: ['mqtt:publish'], resources: ['video/${device.id}/telemetry'] }] };

describe('palisade policy lint', () => {
  it('prints one line per finding and fails on errors', async () => {
    const wide = file('wide.yaml', "name: wide\nversion: '2026-11'\nstatements:\n  - effect: allow\n    actions: ['*']\n    resources: ['#']\n");
    const denyWild = file('deny.json', { name: 'd', version: '2026-11', statements: [{ sid: 'no', effect: 'deny', actions: ['mqtt:subscribe'], resources: ['a/+/b'] }] });
    const bundle = file('bundle.json', { policies: [{ name: 'b', version: '2026-11', statements: [{ effect: 'allow', actions: ['mqtt:subscribe'], resources: ['+/#'] }] }], attachments: { segment: { video: ['b'] } } });
    const broken = file('broken.json', '{ "name": ');
    const invalid = file('invalid.json', { name: 'x', version: '2026-11', statements: [{ effect: 'allow', actions: ['mqtt:pub'], resources: ['a'] }] });
    const r = await palisade(['policy', 'lint', wide, denyWild, bundle, broken, invalid, join(dir, 'missing.json')]);
    expect(r.error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    // The bundle brings attachments, so the other files' policies are reported as unattached.
    expect(r.error?.message).toBe('policy lint: 4 error(s), 5 warning(s)');
    expect(r.out).toEqual([
      expect.stringMatching(/^error .*broken\.json: not valid JSON: /),
      `error ${join(dir, 'missing.json')}: cannot read (ENOENT)`,
      expect.stringMatching(/^error x: policy x: statements\[0\]\.actions\[0\]: unknown action "mqtt:pub"/),
      'warning wide: not attached to any segment or device, so it has no effect',
      'warning wide#0: over-broad grant: allows every action ("*") to the devices it is attached to; name the actions',
      expect.stringMatching(/^warning wide#0: over-broad grant: "#" lets the devices it is attached to mqtt:publish\/mqtt:subscribe\/mqtt:receive/),
      'warning d: not attached to any segment or device, so it has no effect',
      expect.stringMatching(/^warning d#no: MQTT wildcard in deny resource "a\/\+\/b": AWS IoT reads/),
      expect.stringMatching(/^error b#0: over-broad grant: "\+\/#" lets every device in segment video mqtt:subscribe/),
    ]);
    for (const line of r.out) expect(line).not.toContain('\n');
  });

  it('passes with warnings only', async () => {
    const r = await palisade(['policy', 'lint', file('ok.json', cams)]);
    expect(r.error).toBeNull();
    expect(r.out).toEqual(['policy lint: no errors, 0 warning(s)']);
  });
});

describe('palisade policy put|attach|detach|list|show|delete', () => {
  const data = join(dir, 'data');

  it('stores, attaches and lists policies', async () => {
    expect((await palisade(['policy', 'put', file('cams.json', cams), '-d', data])).out).toEqual(['policy cams stored (1 statement(s))']);
    expect((await palisade(['policy', 'attach', 'cams', '--segment', 'video', '-d', data])).out).toEqual(['policy cams attached to segment video']);
    expect((await palisade(['policy', 'attach', 'cams', '--device', 'cam-9', '-d', data])).out).toEqual(['policy cams attached to device cam-9']);
    expect((await palisade(['policy', 'list', '-d', data])).out).toEqual([
      'segment-default\t5 statement(s)\tbuilt-in',
      'quarantine\t4 statement(s)\tbuilt-in',
      'cams\t1 statement(s)\tsegments: video\tdevices: cam-9',
    ]);
    expect(JSON.parse((await palisade(['policy', 'show', 'cams', '-d', data])).out.join('\n'))).toEqual(cams);
    expect((JSON.parse((await palisade(['policy', 'show', 'quarantine', '-d', data])).out.join('\n')) as { name: string }).name).toBe('quarantine');
    expect((await palisade(['policy', 'lint', '-d', data])).out).toEqual(['policy lint: no errors, 0 warning(s)']);
    expect((await palisade(['policy', 'detach', 'cams', '--device', 'cam-9', '-d', data])).out).toEqual(['policy cams detached from device cam-9']);
    expect((await palisade(['policy', 'detach', 'cams', '--device', 'cam-9', '-d', data])).error?.code).toBe(ErrorCodes.NOT_FOUND);
  });

  it('refuses bad input with one clear line', async () => {
    expect((await palisade(['policy', 'attach', 'ghost', '--segment', 'video', '-d', data])).error?.message).toBe('policy ghost not found');
    expect((await palisade(['policy', 'attach', 'cams', '-d', data])).error?.message).toBe('name exactly one of --segment SEGMENT or --device DEVICE');
    expect((await palisade(['policy', 'attach', 'cams', '--segment', 's', '--device', 'd', '-d', data])).error?.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    const reserved = await palisade(['policy', 'put', file('reserved.json', { ...cams, name: 'quarantine' }), '-d', data]);
    expect(reserved.error?.message).toBe('policy quarantine: the name is reserved for a built-in policy');
    const invalid = await palisade(['policy', 'put', file('bad.json', { ...cams, version: '1' }), '-d', data]);
    expect(invalid.error?.message).toBe('policy cams: version: must be "2026-11", got "1"');
  });

  it('refuses to store a policy with lint errors unless forced', async () => {
    const wide = file('wide2.json', { name: 'cams', version: '2026-11', statements: [{ effect: 'allow', actions: ['mqtt:subscribe'], resources: ['#'] }] });
    const refused = await palisade(['policy', 'put', wide, '-d', data]);
    expect(refused.out).toEqual([expect.stringMatching(/^error cams#0: over-broad grant: "#" lets every device in segment video/)]);
    expect(refused.error?.message).toBe('policy cams: not stored, lint found 1 error(s) (use --force to store anyway)');
    expect(JSON.parse((await palisade(['policy', 'show', 'cams', '-d', data])).out.join('\n'))).toEqual(cams);
    expect((await palisade(['policy', 'put', wide, '--force', '-d', data])).out.at(-1)).toBe('policy cams stored (1 statement(s))');
  });

  it('deletes a policy with its attachments', async () => {
    expect((await palisade(['policy', 'delete', 'cams', '-d', data])).out).toEqual(['policy cams deleted']);
    expect((await palisade(['policy', 'delete', 'cams', '-d', data])).error?.code).toBe(ErrorCodes.NOT_FOUND);
    expect((await palisade(['policy', 'list', '-d', data])).out).toHaveLength(2);
    expect((await palisade(['policy', 'show', 'cams', '-d', data])).error?.code).toBe(ErrorCodes.NOT_FOUND);
  });
});
