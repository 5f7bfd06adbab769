/**
 * Device shadows in core (issue 4, point 5), protocol-neutral: MQTT `$shadow/<device>/...`,
 * HTTP and CoAP call get / update. Devices are authorised by `shadow:get|update|delete` on the
 * device id (segment-default lets a device own its shadow); operators come through the admin
 * API's scopes (caller.policy null). Updates use optimistic concurrency: an update carrying a
 * version other than the stored one is refused with VERSION_CONFLICT, and two racing writers
 * cannot both win because the store compares versions in its write.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { Actions, type Action } from '../policy/actions.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import { computeDelta, isJsonObject, mergeMetadata, mergeState, metadataOf } from './document.ts';
import type { JsonObject, ShadowMetadata, ShadowRecord, ShadowRepo } from './types.ts';

export interface ShadowCaller {
  principal: string | null;
  source: string | null;
  /** Null for operators (authorised by the admin API) and the gateway itself. */
  policy: CompiledPolicy | null;
}

export interface ShadowView {
  state: { desired: JsonObject; reported: JsonObject; delta?: JsonObject };
  metadata: { desired: ShadowMetadata; reported: ShadowMetadata };
  version: number;
  /** Epoch seconds, as AWS IoT. */
  timestamp: number;
}

export interface ShadowUpdateResult {
  /** What the `update/accepted` reply carries: the state sent, its metadata, the new version. */
  accepted: { state: { desired?: JsonObject; reported?: JsonObject }; metadata: { desired?: ShadowMetadata; reported?: ShadowMetadata }; version: number; timestamp: number; clientToken?: string };
  /** Non-empty when desired and reported differ after the update (`update/delta`). */
  delta: { state: JsonObject; metadata: ShadowMetadata; version: number; timestamp: number } | null;
}

/** Device ids as the fleet allows them; keeps `/`, `+` and `#` out of shadow topics. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class ShadowService {
  readonly #repo: ShadowRepo;
  readonly #events: Pick<EventLog, 'record'>;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(deviceId: string, result: ShadowUpdateResult) => void>();

  constructor(deps: { repo: ShadowRepo; events: Pick<EventLog, 'record'>; maxBytes: number; now?: () => number }) {
    this.#repo = deps.repo;
    this.#events = deps.events;
    this.#maxBytes = deps.maxBytes;
    this.#now = deps.now ?? Date.now;
  }

  /** Called after every accepted update, whichever protocol made it (MQTT publishes accepted/delta). */
  onUpdate(listener: (deviceId: string, result: ShadowUpdateResult) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async get(caller: ShadowCaller, deviceId: string): Promise<ShadowView> {
    this.#authorize(caller, Actions.shadowGet, deviceId);
    const rec = await this.#repo.get(deviceId);
    if (!rec) throw new PalisadeError(ErrorCodes.NOT_FOUND, 'no shadow for this device', { detail: { deviceId } });
    const delta = computeDelta(rec.state.desired, rec.state.reported);
    return {
      state: { desired: rec.state.desired, reported: rec.state.reported, ...(Object.keys(delta).length > 0 ? { delta } : {}) },
      metadata: rec.metadata,
      version: rec.version,
      timestamp: Math.floor(this.#now() / 1000),
    };
  }

  /** `request` is the parsed JSON body: `{ state: { desired?, reported? }, version?, clientToken? }`. */
  async update(caller: ShadowCaller, deviceId: string, request: unknown): Promise<ShadowUpdateResult> {
    this.#authorize(caller, Actions.shadowUpdate, deviceId);
    const req = parseUpdate(request);
    const current = await this.#repo.get(deviceId);
    const currentVersion = current?.version ?? 0;
    if (req.version !== undefined && req.version !== currentVersion) {
      this.#events.record('shadow.version_conflict', 'info', { principal: caller.principal, source: caller.source, detail: { deviceId, expected: req.version, current: currentVersion } });
      throw new PalisadeError(ErrorCodes.VERSION_CONFLICT, 'version conflict', { detail: { deviceId, version: currentVersion } });
    }
    const now = this.#now();
    const ts = Math.floor(now / 1000);
    const base = current ?? { deviceId, state: { desired: {}, reported: {} }, metadata: { desired: {}, reported: {} }, version: 0, updatedAt: now };
    const next: ShadowRecord = {
      deviceId,
      state: {
        desired: req.desired ? mergeState(base.state.desired, req.desired) : base.state.desired,
        reported: req.reported ? mergeState(base.state.reported, req.reported) : base.state.reported,
      },
      metadata: {
        desired: req.desired ? mergeMetadata(base.metadata.desired, req.desired, ts) : base.metadata.desired,
        reported: req.reported ? mergeMetadata(base.metadata.reported, req.reported, ts) : base.metadata.reported,
      },
      version: currentVersion + 1,
      updatedAt: now,
    };
    const bytes = Buffer.byteLength(JSON.stringify(next.state));
    if (bytes > this.#maxBytes) {
      this.#events.record('shadow.too_large', 'warning', { principal: caller.principal, source: caller.source, detail: { deviceId, bytes, maxBytes: this.#maxBytes } });
      throw new PalisadeError(ErrorCodes.PACKET_TOO_LARGE, 'shadow document larger than shadows.maxBytes', { detail: { deviceId, bytes } });
    }
    if (!(await this.#repo.put(next, currentVersion))) {
      throw new PalisadeError(ErrorCodes.VERSION_CONFLICT, 'version conflict', { detail: { deviceId } });
    }
    const delta = computeDelta(next.state.desired, next.state.reported);
    const result: ShadowUpdateResult = {
      accepted: {
        state: { ...(req.desired ? { desired: req.desired } : {}), ...(req.reported ? { reported: req.reported } : {}) },
        metadata: { ...(req.desired ? { desired: metadataOf(req.desired, ts) } : {}), ...(req.reported ? { reported: metadataOf(req.reported, ts) } : {}) },
        version: next.version,
        timestamp: ts,
        ...(req.clientToken === undefined ? {} : { clientToken: req.clientToken }),
      },
      // AWS IoT: a delta is published when the update touched desired and a difference remains.
      delta: req.desired && Object.keys(delta).length > 0 ? { state: delta, metadata: next.metadata.desired, version: next.version, timestamp: ts } : null,
    };
    for (const l of this.#listeners) l(deviceId, result);
    return result;
  }

  async delete(caller: ShadowCaller, deviceId: string): Promise<boolean> {
    this.#authorize(caller, Actions.shadowDelete, deviceId);
    return this.#repo.delete(deviceId);
  }

  #authorize(caller: ShadowCaller, action: Action, deviceId: string): void {
    if (!DEVICE_ID.test(deviceId)) throw new PalisadeError(ErrorCodes.INVALID_ARGUMENT, 'invalid device id', { detail: { deviceId: deviceId.slice(0, 160) } });
    if (caller.policy === null) return;
    const d = caller.policy.authorize(action, deviceId, { source: caller.source });
    if (d.allowed) return;
    this.#events.record(`shadow.${action.slice('shadow:'.length)}_denied`, 'warning', { principal: caller.principal, source: caller.source, detail: { deviceId, rule: d.rule } });
    throw new PalisadeError(ErrorCodes.POLICY_DENIED, `${action} denied on ${deviceId}`, { detail: { deviceId, rule: d.rule } });
  }
}

interface UpdateRequest {
  desired?: JsonObject;
  reported?: JsonObject;
  version?: number;
  clientToken?: string;
}

function parseUpdate(body: unknown): UpdateRequest {
  const bad = (why: string): PalisadeError => new PalisadeError(ErrorCodes.INVALID_ARGUMENT, `invalid shadow update: ${why}`);
  if (!isJsonObject(body)) throw bad('not a JSON object');
  const state = body.state;
  if (!isJsonObject(state)) throw bad('state must be an object');
  const out: UpdateRequest = {};
  for (const key of Object.keys(state)) if (key !== 'desired' && key !== 'reported') throw bad(`unknown state section ${key.slice(0, 32)}`);
  if (state.desired !== undefined && state.desired !== null) {
    if (!isJsonObject(state.desired)) throw bad('state.desired must be an object');
    out.desired = state.desired;
  }
  if (state.reported !== undefined && state.reported !== null) {
    if (!isJsonObject(state.reported)) throw bad('state.reported must be an object');
    out.reported = state.reported;
  }
  if (!out.desired && !out.reported) throw bad('state needs desired or reported');
  if (body.version !== undefined) {
    if (typeof body.version !== 'number' || !Number.isInteger(body.version) || body.version < 0) throw bad('version must be a non-negative integer');
    out.version = body.version;
  }
  if (body.clientToken !== undefined) {
    if (typeof body.clientToken !== 'string' || body.clientToken.length > 64) throw bad('clientToken must be a string of at most 64 characters');
    out.clientToken = body.clientToken;
  }
  return out;
}
