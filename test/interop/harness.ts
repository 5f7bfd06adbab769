/**
 * Interop harness: runs a real Palisade gateway process (`palisade start`) in a fresh temporary
 * data dir, registers devices through the real CLI, and runs external peers (mosquitto_pub,
 * mosquitto_sub, openssl) with bounded waits. Every process started here is tracked so the
 * test files can kill leftovers in afterAll.
 *
 * PALISADE_INTEROP_CLI may point at another entry point with the same CLI contract (used to
 * dry-run the tier against a stand-in while the broker is being written); default src/cli/main.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify as toYaml } from 'yaml';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = process.env['PALISADE_INTEROP_CLI'] ?? join(REPO_ROOT, 'src', 'cli', 'main.ts');

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const CLI_TIMEOUT_MS = 30_000;

export interface Endpoint {
  host: string;
  port: number;
}

export interface Ports {
  mqtt?: Endpoint;
  mqtts?: Endpoint;
  https?: Endpoint;
}

export interface DeviceCredentials {
  name: string;
  /** The id the gateway knows the device by (the MQTT client id and password user name). */
  id: string;
  segment: string;
  dir: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Present when the device was added with `--password`. */
  password?: string;
  /** Output of `device add` (stdout), for diagnostics. */
  cliOutput: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();

/** Environment for children: no PALISADE_* from the developer's shell leaks into the gateway. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PALISADE_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, ...extra };
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  // A child that fails to spawn emits 'error' and never 'exit'.
  child.once('error', () => live.delete(child));
  return child;
}

function exitOf(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => res({ code, signal });
    child.once('exit', onExit);
    child.once('error', () => res({ code: null, signal: null }));
  });
}

/** Rejects after `ms` with a message naming what was awaited. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: ac.signal }).then(() => {
        throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      }),
    ]);
  } finally {
    ac.abort();
  }
}

/** Polls `cond` every 20 ms until it holds; rejects after `ms` (and stops polling). */
export async function waitUntil(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await sleep(20);
  }
}

/** Kills every process this harness started that is still running (SIGKILL, by pid). */
export async function killAll(): Promise<void> {
  const waits: Array<Promise<ExitInfo>> = [];
  for (const child of live) {
    waits.push(exitOf(child));
    child.kill('SIGKILL');
  }
  await withTimeout(Promise.all(waits), 5_000, 'leftover processes to die').catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Running tools (mosquitto_pub/sub, openssl, the palisade CLI)
// ---------------------------------------------------------------------------------------------

export interface ToolResult extends ExitInfo {
  command: string;
  stdout: string;
  stderr: string;
  /** True when the harness killed the process because it outran its timeout. */
  timedOut: boolean;
}

export interface ToolOptions {
  timeoutMs?: number;
  /** Written to stdin, which is then closed. Without it stdin is closed immediately. */
  input?: string;
  cwd?: string;
}

/** A running tool whose output can be awaited while it runs (e.g. mosquitto_sub). */
export class ToolProcess {
  readonly command: string;
  readonly child: ChildProcess;
  readonly done: Promise<ToolResult>;
  #stdout = '';
  #stderr = '';
  #timedOut = false;
  #listeners = new Set<() => void>();

  constructor(cmd: string, args: readonly string[], options: ToolOptions = {}) {
    this.command = [cmd, ...args].join(' ');
    const timeoutMs = options.timeoutMs ?? 15_000;
    const child = spawn(cmd, args, { cwd: options.cwd ?? REPO_ROOT, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = track(child);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.#stdout += d;
      this.#notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.#stderr += d;
      this.#notify();
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
    const timer = setTimeout(() => {
      this.#timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    this.done = new Promise<ToolResult>((res) => {
      // 'close' waits for stdio to drain, so stdout is complete.
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        clearTimeout(timer);
        if (spawnError) this.#stderr += `\n[harness] spawn failed: ${spawnError.message}`;
        this.#notify();
        res({ command: this.command, code, signal, stdout: this.#stdout, stderr: this.#stderr, timedOut: this.#timedOut });
      };
      let finished = false;
      const once = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (finished) return;
        finished = true;
        finish(code, signal);
      };
      child.once('close', once);
      child.once('error', () => once(null, null));
      // A grandchild that inherited our pipes can hold 'close' back forever: after 'exit',
      // give stdio a moment to drain, then stop waiting for it.
      child.once('exit', (code, signal) => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          once(code, signal);
        }, 1_000).unref();
      });
    });
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  /** Resolves once stdout+stderr match `pattern`; rejects on timeout or if the tool exits first. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((res, rej) => {
      let settled = false;
      const check = (): void => {
        if (settled) return;
        const all = this.#stdout + this.#stderr;
        const m = pattern.exec(all);
        if (m) {
          settled = true;
          cleanup();
          res(m[0]);
        }
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        cleanup();
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)} from \`${this.command}\`\nstdout: ${this.#stdout}\nstderr: ${this.#stderr}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      void this.done.then((r) => {
        check();
        if (settled) return;
        settled = true;
        cleanup();
        rej(new Error(`\`${this.command}\` exited (code ${String(r.code)}, signal ${String(r.signal)}) before printing ${String(pattern)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`));
      });
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Runs a tool to completion (bounded by timeoutMs, then SIGKILL) and collects its output. */
export function runTool(cmd: string, args: readonly string[], options: ToolOptions = {}): Promise<ToolResult> {
  return new ToolProcess(cmd, args, options).done;
}

export function startTool(cmd: string, args: readonly string[], options: ToolOptions = {}): ToolProcess {
  return new ToolProcess(cmd, args, options);
}

export function mosquittoPub(args: readonly string[], timeoutMs = 10_000): Promise<ToolResult> {
  return runTool('mosquitto_pub', args, { timeoutMs });
}

/** Runs mosquitto_sub to completion (give it -C/-W so it ends by itself). */
export function mosquittoSub(args: readonly string[], timeoutMs = 15_000): Promise<ToolResult> {
  return runTool('mosquitto_sub', args, { timeoutMs });
}

/**
 * Starts mosquitto_sub in the background with `-d` and waits until it has its SUBACK, so a
 * publish made afterwards is guaranteed to find the subscription.
 */
export async function startSubscribed(args: readonly string[], timeoutMs = 15_000): Promise<ToolProcess> {
  // mosquitto_sub's debug lines go through stdio, fully buffered on a pipe: force line buffering.
  const sub = startTool('stdbuf', ['-oL', '-eL', 'mosquitto_sub', '-d', ...args], { timeoutMs });
  await sub.waitForOutput(/received SUBACK/, Math.min(timeoutMs, 10_000));
  return sub;
}

/** One-line description of a tool result for assertion messages. */
export function explain(r: ToolResult): string {
  return `\`${r.command}\` -> code ${String(r.code)} signal ${String(r.signal)}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Runs the palisade CLI (`node CLI ...args`). */
export function runCli(args: readonly string[], timeoutMs = CLI_TIMEOUT_MS): Promise<ToolResult> {
  return runTool(process.execPath, [CLI, ...args], { timeoutMs });
}

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

export type GatewayConfig = string | Record<string, unknown>;

/**
 * UDP listeners a test did not configure get port 0: a fixed default port (CoAP 5683, CoAPS 5684, DNS 5353) would
 * collide with any other gateway or libcoap server on the machine.
 */
function withEphemeralUdpPorts(config: Record<string, unknown>): Record<string, unknown> {
  const listeners = (config['listeners'] ?? {}) as Record<string, unknown>;
  return { ...config, listeners: { coap: { port: 0 }, coaps: { port: 0, host: '127.0.0.1' }, dns: { port: 0 }, ...listeners } };
}

export interface StartOptions {
  /** Keep the temp dir after dispose() (for debugging). Also PALISADE_INTEROP_KEEP=1. */
  keep?: boolean;
}

function connectHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** A Palisade gateway process in its own temp dir: `<root>/data`, `<root>/devices/<name>`. */
export class Gateway {
  readonly root: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly keep: boolean;
  ports: Ports = {};
  #child: ChildProcess | undefined;
  #stdout = '';
  #stderr = '';
  #devices = new Map<string, DeviceCredentials>();

  private constructor(root: string, keep: boolean) {
    this.root = root;
    this.dataDir = join(root, 'data');
    this.configPath = join(root, 'palisade.yaml');
    this.keep = keep;
  }

  /** Writes the config and starts a gateway in a fresh temp data dir; resolves once ports.json exists. */
  static async start(config: GatewayConfig, options: StartOptions = {}): Promise<Gateway> {
    const root = await mkdtemp(join(tmpdir(), 'palisade-interop-'));
    const gw = new Gateway(root, options.keep === true || process.env['PALISADE_INTEROP_KEEP'] === '1');
    await mkdir(gw.dataDir, { recursive: true });
    await writeFile(gw.configPath, typeof config === 'string' ? config : toYaml(withEphemeralUdpPorts(config)));
    try {
      await gw.#spawn();
    } catch (err) {
      await gw.dispose();
      throw err;
    }
    return gw;
  }

  /** Everything the current (or last) gateway process wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** PEM of the CA chain clients trust (DATA_DIR/pki/ca.pem). */
  get caPath(): string {
    return join(this.dataDir, 'pki', 'ca.pem');
  }

  endpoint(listener: keyof Ports): Endpoint {
    const ep = this.ports[listener];
    if (!ep) throw new Error(`listener ${listener} is not in ports.json: ${JSON.stringify(this.ports)}`);
    return { host: connectHost(ep.host), port: ep.port };
  }

  async #spawn(): Promise<void> {
    const portsFile = join(this.dataDir, 'ports.json');
    await rm(portsFile, { force: true });
    this.#stdout = '';
    this.#stderr = '';
    const child = spawn(process.execPath, [CLI, 'start', '--config', this.configPath, '--data-dir', this.dataDir], {
      cwd: this.root,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = track(child);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.#stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.#stderr += d;
    });
    const exited = exitOf(child);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited;
        throw new Error(`gateway exited during start (code ${String(child.exitCode)}, signal ${String(child.signalCode)})\nstderr:\n${this.#stderr}\nstdout:\n${this.#stdout}`);
      }
      if (existsSync(portsFile)) {
        try {
          const parsed = JSON.parse(await readFile(portsFile, 'utf8')) as Ports;
          if (parsed && typeof parsed === 'object' && Object.keys(parsed).length > 0) {
            this.ports = parsed;
            return;
          }
        } catch {
          // Partially written; read again on the next tick.
        }
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await withTimeout(exited, 5_000, 'killed gateway to exit').catch(() => undefined);
        throw new Error(`gateway did not write ${portsFile} within ${START_TIMEOUT_MS} ms\nstderr:\n${this.#stderr}\nstdout:\n${this.#stdout}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM, wait for exit (10 s), then SIGKILL. Returns how the process ended. */
  async stop(): Promise<ExitInfo & { killed: boolean }> {
    const child = this.#child;
    if (!child) return { code: null, signal: null, killed: false };
    const exited = exitOf(child);
    if (child.exitCode !== null || child.signalCode !== null) return { ...(await exited), killed: false };
    child.kill('SIGTERM');
    try {
      return { ...(await withTimeout(exited, STOP_TIMEOUT_MS, 'gateway to exit after SIGTERM')), killed: false };
    } catch {
      child.kill('SIGKILL');
      return { ...(await withTimeout(exited, 5_000, 'gateway to exit after SIGKILL')), killed: true };
    }
  }

  /** Stops the process and starts a new one on the same data dir and config; ports may change. */
  async restart(): Promise<ExitInfo & { killed: boolean }> {
    const exit = await this.stop();
    await this.#spawn();
    return exit;
  }

  /** Stops the gateway and removes the temp dir (unless kept). */
  async dispose(): Promise<void> {
    await this.stop();
    if (!this.keep) await rm(this.root, { recursive: true, force: true });
  }

  /** `palisade device add NAME --segment SEG --out DIR --data-dir DATA [--password]`. */
  async addDevice(name: string, segment: string, options: { password?: boolean } = {}): Promise<DeviceCredentials> {
    const dir = join(this.root, 'devices', name);
    const args = ['device', 'add', name, '--segment', segment, '--out', dir, '--data-dir', this.dataDir];
    if (options.password) args.push('--password');
    const r = await runCli(args);
    if (r.code !== 0) throw new Error(`device add ${name} failed: ${explain(r)}`);
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const caPath = join(dir, 'ca.pem');
    const [cert, key, ca] = await Promise.all([readFile(certPath), readFile(keyPath), readFile(caPath)]);
    const creds: DeviceCredentials = { name, id: name, segment, dir, certPath, keyPath, caPath, cert, key, ca, cliOutput: r.stdout };
    if (options.password) {
      creds.password = (await readFile(join(dir, 'password'), 'utf8')).trim();
      if (!creds.password) throw new Error(`device add ${name} --password wrote an empty password file`);
    }
    this.#devices.set(name, creds);
    return creds;
  }

  device(name: string): DeviceCredentials {
    const d = this.#devices.get(name);
    if (!d) throw new Error(`no device ${name} added through this harness`);
    return d;
  }

  async readPem(file: string): Promise<Buffer> {
    return readFile(join(this.dataDir, 'pki', file));
  }
}

/** Subject CN and SAN of a PEM certificate, for diagnostics and identity assertions. */
export function certInfo(pem: Buffer): { subject: string; san: string | undefined; issuer: string } {
  const x = new X509Certificate(pem);
  return { subject: x.subject, san: x.subjectAltName, issuer: x.issuer };
}
