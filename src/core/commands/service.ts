/**
 * Commands (issue 4, point 5): an operator sends a named command to a device and waits for its
 * reply. Core keeps the pending commands by correlation id and enforces the timeout; a
 * transport (MQTT today: protocols/mqtt/command-channel.ts) delivers the command to the
 * device's live sessions and hands replies back through `reply`.
 *
 * A device with no live session subscribed to its commands is refused at once with
 * DEVICE_OFFLINE (HTTP 409) rather than queued: a command is an exchange with a deadline, and
 * one queued for an absent device would run long after the operator stopped waiting.
 * Every command is one `admin.command` event: who sent it, what, to which device, the outcome.
 *
 * With a CommandCounter (issue 5, point 5) each command carries the device's next outbound
 * counter, which the transport puts on the wire (device-kit/wire.ts: MQTT 5 user property
 * `palisade-ctr`, the envelope for 3.1.1) so the device can refuse a replayed command.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import type { CommandCounter } from '../replay/outbound.ts';

export interface CommandRequest {
  deviceId: string;
  name: string;
  payload: Buffer;
  correlationId: string;
  /** Replay counter to stamp on the command; null when commands are not stamped. */
  counter: number | null;
}

export interface CommandTransport {
  /** Sends to every live session of the device that subscribed to this command; false when there is none. */
  deliver(cmd: CommandRequest): boolean;
}

export interface CommandReply {
  payload: Buffer;
  elapsedMs: number;
}

export interface CommandSettings {
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
}

/** One topic level, and never the word the reply topics use. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isCommandName(name: string): boolean {
  return NAME.test(name) && name !== 'reply';
}

interface Pending {
  deviceId: string;
  resolve: (r: Buffer) => void;
}

export class CommandService {
  readonly #events: Pick<EventLog, 'record'>;
  readonly #settings: CommandSettings;
  readonly #pending = new Map<string, Pending>();
  readonly #counter: CommandCounter | null;
  #transport: CommandTransport | null = null;

  constructor(deps: { events: Pick<EventLog, 'record'>; settings: CommandSettings; counter?: CommandCounter | null }) {
    this.#events = deps.events;
    this.#settings = deps.settings;
    this.#counter = deps.counter ?? null;
  }

  setTransport(t: CommandTransport): void {
    this.#transport = t;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Resolves with the device's reply; TIMEOUT after `timeoutMs`, DEVICE_OFFLINE when nothing can take it. */
  async send(actor: { principal: string; source: string | null }, deviceId: string, name: string, payload: Buffer, timeoutMs?: number): Promise<CommandReply> {
    if (!isCommandName(name)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'invalid command name', { detail: { name: name.slice(0, 80) } });
    const timeout = Math.min(timeoutMs ?? this.#settings.defaultTimeoutMs, this.#settings.maxTimeoutMs);
    const correlationId = randomUUID();
    const started = Date.now();
    const record = (outcome: string, extra: Record<string, unknown> = {}): void =>
      this.#events.record('admin.command', outcome === 'replied' ? 'info' : 'warning', { principal: actor.principal, source: actor.source, detail: { deviceId, name, correlationId, bytes: payload.length, timeoutMs: timeout, outcome, ...extra } });

    const reply = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        resolve(null);
      }, timeout);
      this.#pending.set(correlationId, {
        deviceId,
        resolve: (b) => {
          clearTimeout(timer);
          this.#pending.delete(correlationId);
          resolve(b);
        },
      });
    });
    const counter = this.#counter?.next(deviceId) ?? null;
    if (!this.#transport?.deliver({ deviceId, name, payload, correlationId, counter })) {
      this.#pending.get(correlationId)?.resolve(Buffer.alloc(0));
      record('offline');
      throw new PalisadeError(ErrorCodes.DEVICE_OFFLINE, 'device has no live session subscribed to its commands', { detail: { deviceId } });
    }
    const answer = await reply;
    const elapsedMs = Date.now() - started;
    if (answer === null) {
      record('timeout', { elapsedMs });
      throw new PalisadeError(ErrorCodes.TIMEOUT, 'no reply from the device in time', { detail: { deviceId, timeoutMs: timeout } });
    }
    record('replied', { elapsedMs, replyBytes: answer.length });
    return { payload: answer, elapsedMs };
  }

  /** A reply from `deviceId`; false when no command of that device waits under this id. */
  reply(deviceId: string, correlationId: string, payload: Buffer): boolean {
    const p = this.#pending.get(correlationId);
    if (!p || p.deviceId !== deviceId) return false;
    p.resolve(payload);
    return true;
  }
}
