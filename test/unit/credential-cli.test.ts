/**
 * `palisade device set-password|audit` as a separate process against the data dir of a running
 * gateway: refusals print one `palisade: ...` line and exit 1, a shared password is refused
 * unless --allow-shared (then warned and logged), the audit lists it, and a password set by
 * the CLI then authenticates over MQTT.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { RawClient } from './helpers/raw-client.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function palisade(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const SECRET = 'Juniper-Ledger-72-frost';

let t: TestGateway;
let dataDir: string;

async function mqttLogin(username: string, password: string): Promise<number> {
  const c = await RawClient.tcp(t.port('mqtt'), 5);
  try {
    const ack = await c.connect({ clientId: username, username, password: Buffer.from(password) });
    return ack.reasonCode ?? -1;
  } finally {
    c.destroy();
  }
}

beforeAll(async () => {
  t = await startTestGateway();
  dataDir = t.dataDir;
  for (const id of ['meter-1', 'meter-2', 'meter-3']) await addDevice(t, id, 'lab');
  await t.gateway.store.devices.create({ id: 'orphan', segment: 'lab', status: 'active', attrs: {}, passwordHash: null, createdAt: Date.now() });
});

afterAll(async () => {
  await t.stop();
});

describe('palisade device set-password', { timeout: 60_000 }, () => {
  it('refuses Mirai, factory-default, weak and username-bearing passwords with one line and exit 1', async () => {
    const cases: Array<[string, RegExp]> = [
      ['xc3511\n', /^palisade: password refused: it is on the Mirai botnet's credential list$/],
      ['Raspberry\n', /^palisade: password refused: it is a common factory-default password$/],
      ['zzzzzzzzzzzzzzzzzzzz\n', /^palisade: password refused: its estimated strength is \d+ bits; at least 60 are required/],
      ['short1A!\n', /^palisade: password refused: it has 8 characters; at least 12 are required$/],
      ['meter-1-Zx9#kq!2Lm7\n', /^palisade: password refused: it contains the username or device id$/],
    ];
    // In parallel: each is a separate CLI process and none of them writes.
    const runs = await Promise.all(cases.map(([input]) => palisade(['device', 'set-password', 'meter-1', '--stdin', '--data-dir', dataDir], input)));
    for (const [i, [input, expected]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, input).toBe(1);
      expect(r.stderr.trim().split('\n'), input).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(expected);
    }
    expect((await t.gateway.store.devices.get('meter-1'))?.passwordHash).toBeNull();
    const [both, missing] = await Promise.all([
      palisade(['device', 'set-password', 'meter-1', '--stdin', '--generate', '--data-dir', dataDir]),
      palisade(['device', 'set-password', 'ghost', '--generate', '--data-dir', dataDir]),
    ]);
    expect(both.code).toBe(1);
    expect(both.stderr.trim()).toBe('palisade: give exactly one of --stdin or --generate');
    expect(missing.stderr.trim()).toBe('palisade: device ghost not found');
  });

  it('sets a password from stdin that then authenticates over MQTT, and never echoes it', async () => {
    expect(await mqttLogin('meter-1', SECRET)).not.toBe(0);
    const r = await palisade(['device', 'set-password', 'meter-1', '--stdin', '--data-dir', dataDir], `${SECRET}\n`);
    expect(r).toMatchObject({ code: 0, stdout: 'password for device meter-1 set\n', stderr: '' });
    expect(await mqttLogin('meter-1', SECRET)).toBe(0);
    expect(await mqttLogin('meter-1', `${SECRET}x`)).toBe(0x86); // MQTT 5 §3.2.2.2: bad user name or password
  });

  it('refuses the same password for a second device unless --allow-shared, which warns and logs it', async () => {
    const refused = await palisade(['device', 'set-password', 'meter-2', '--stdin', '--data-dir', dataDir], SECRET);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('palisade: password refused: another device (meter-1) already has it; each device needs its own (--allow-shared to accept and report it)');
    expect(await mqttLogin('meter-2', SECRET)).not.toBe(0);

    const allowed = await palisade(['device', 'set-password', 'meter-2', '--stdin', '--allow-shared', '--data-dir', dataDir], SECRET);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr.trim()).toBe('palisade: warning: device meter-2 now shares its password with meter-1 (see palisade device audit)');
    expect(await mqttLogin('meter-2', SECRET)).toBe(0);

    const shared = await t.gateway.store.events.list({ type: 'credential.shared' });
    expect(shared.map((e) => e.detail.devices)).toEqual([['meter-2', 'meter-1']]);
    const all = JSON.stringify(await t.gateway.store.events.list());
    expect(all).toContain('credential.refused');
    expect(all).not.toContain(SECRET);
  });

  it('generates a password, prints it once, and it authenticates', async () => {
    const r = await palisade(['device', 'set-password', 'meter-3', '--generate', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const m = /^password for device meter-3 set; shown once: ([A-Za-z0-9_-]{32})\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(await mqttLogin('meter-3', m![1]!)).toBe(0);
    expect(JSON.stringify(await t.gateway.store.events.list())).not.toContain(m![1]!);
  });

  it('device add --password fingerprints the generated password too', async () => {
    const r = await palisade(['device', 'add', 'meter-4', '--segment', 'lab', '--password', '--out', `${dataDir}/meter-4-creds`, '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect((await t.gateway.store.devices.get('meter-4'))?.credentialFingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('palisade device audit', { timeout: 60_000 }, () => {
  it('lists devices sharing a password and devices with no credential', async () => {
    const r = await palisade(['device', 'audit', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('shared password: meter-1, meter-2\nno credential: orphan\n2 finding(s)\n');
    const json = await palisade(['device', 'audit', '--json', '--data-dir', dataDir]);
    expect(JSON.parse(json.stdout)).toEqual({ shared: [['meter-1', 'meter-2']], noCredential: ['orphan'], unfingerprinted: [] });

    const fixed = await palisade(['device', 'set-password', 'meter-2', '--generate', '--data-dir', dataDir]);
    expect(fixed.code).toBe(0);
    await t.gateway.store.devices.delete('orphan');
    expect((await palisade(['device', 'audit', '--data-dir', dataDir])).stdout).toBe('no findings\n');
  });
});
