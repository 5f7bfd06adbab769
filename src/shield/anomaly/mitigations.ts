/**
 * What an alarm does (issue 5, point 6): every behaviour's mitigations, run once on the
 * transition to alarm, each one a security event with principal `shield:anomaly`.
 *
 * - alert: `anomaly.alarm` / `anomaly.cleared` events, a message on
 *   `$SYS/palisade/anomaly/<deviceId>`, and a webhook POST (never awaited by the detector).
 * - quarantine: the device moves to the quarantine segment through the same store update as
 *   `palisade device quarantine` (core/fleet/quarantine.ts); the change feed then re-authorises
 *   its live sessions on every protocol.
 * - revoke: every valid certificate of the device is revoked (keyCompromise), as `palisade cert
 *   revoke --device` does; the revocation watcher then closes sessions using them.
 * - ban: through the shield's ban list (shield/bans/types.ts), by the keys the behaviour names.
 */
import type { EventLog } from '../../core/events/event-log.ts';
import { quarantineDevice } from '../../core/fleet/quarantine.ts';
import type { AppMessage } from '../../core/messaging/message.ts';
import type { Store } from '../../core/ports.ts';
import type { BanInput, BanList } from '../bans/types.ts';
import type { AnomalyNotice, AnomalySink, BanKeyKind, Mitigation } from './types.ts';
import { Webhook, type WebhookSettings } from './webhook.ts';

export const ANOMALY_PRINCIPAL = 'shield:anomaly';
export const SYS_ANOMALY_PREFIX = '$SYS/palisade/anomaly/';

export interface MitigatorDeps {
  events: Pick<EventLog, 'record'>;
  store: Pick<Store, 'devices' | 'certificates'>;
  /** Broker publish for the `$SYS` topic; null: no `$SYS` messages. */
  publish: ((message: AppMessage) => void) | null;
  webhook: WebhookSettings | null;
  /** Null until a ban list exists: `ban` then records `anomaly.mitigation_unavailable`. */
  bans: Pick<BanList, 'add'> | null;
  /** Applies a device change now rather than at the next change-feed poll. */
  afterDeviceChange?: () => Promise<void>;
  /** Applies revocations now (closes sessions) rather than at the next poll. */
  afterRevoke?: () => Promise<void>;
}

export class Mitigator implements AnomalySink {
  readonly #d: MitigatorDeps;
  readonly #webhook: Webhook | null;
  /** Mitigations in progress, so stop() and tests can wait for them. */
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: MitigatorDeps) {
    this.#d = deps;
    this.#webhook = deps.webhook ? new Webhook(deps.webhook, (f) => this.#event('anomaly.webhook_failed', 'warning', { ...f })) : null;
  }

  notify(n: AnomalyNotice): void {
    const b = n.behaviour;
    const alert = b.mitigations.includes('alert');
    const summary = {
      device: n.deviceId,
      segment: n.segment,
      behaviour: b.name,
      metric: n.metric,
      value: n.value,
      threshold: Number.isFinite(n.threshold) ? n.threshold : null,
      window: n.window,
      windowEnd: n.windowEnd,
      ...(n.kind === 'alarm' ? { mitigations: b.mitigations } : { cause: n.cause ?? 'datapoints' }),
    };
    const type = n.kind === 'alarm' ? 'anomaly.alarm' : 'anomaly.cleared';
    // The event is always written: it is the record of what the detector decided.
    this.#event(type, n.kind === 'alarm' ? (b.mitigations.some((m) => m !== 'alert') ? 'critical' : 'warning') : 'info', summary);
    if (alert) {
      this.#sys(n.deviceId, { state: n.kind === 'alarm' ? 'alarm' : 'cleared', ...summary });
      this.#webhook?.post({ type, ...summary });
    }
    if (n.kind !== 'alarm') return;
    const actions = b.mitigations.filter((m): m is Exclude<Mitigation, 'alert'> => m !== 'alert');
    if (actions.length === 0) return;
    const p = this.#mitigate(n, actions).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves when mitigations and webhooks started so far are done. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#webhook?.settled();
  }

  async #mitigate(n: AnomalyNotice, actions: Exclude<Mitigation, 'alert'>[]): Promise<void> {
    // In order: quarantine first (cheapest to undo), revocation and bans after.
    for (const action of actions) {
      try {
        if (action === 'quarantine') await this.#quarantine(n);
        else if (action === 'revoke') await this.#revoke(n);
        else await this.#ban(n);
      } catch (err) {
        this.#event('anomaly.mitigation_failed', 'critical', { device: n.deviceId, behaviour: n.behaviour.name, mitigation: action, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  async #quarantine(n: AnomalyNotice): Promise<void> {
    const r = await quarantineDevice(this.#d.store.devices, n.deviceId);
    if (r.outcome === 'quarantined') {
      this.#event('anomaly.quarantined', 'critical', { device: n.deviceId, behaviour: n.behaviour.name, from: r.from, window: n.window });
      await this.#d.afterDeviceChange?.();
    } else {
      this.#event('anomaly.mitigation_skipped', 'info', { device: n.deviceId, behaviour: n.behaviour.name, mitigation: 'quarantine', why: r.outcome });
    }
  }

  async #revoke(n: AnomalyNotice): Promise<void> {
    const certs = (await this.#d.store.certificates.listByDevice(n.deviceId)).filter((c) => c.kind === 'device' && c.revokedAt === null);
    const serials: string[] = [];
    for (const c of certs) if (await this.#d.store.certificates.revoke(c.serial, Date.now(), 'keyCompromise')) serials.push(c.serial);
    if (serials.length === 0) {
      this.#event('anomaly.mitigation_skipped', 'info', { device: n.deviceId, behaviour: n.behaviour.name, mitigation: 'revoke', why: 'no valid certificate' });
      return;
    }
    this.#event('anomaly.revoked', 'critical', { device: n.deviceId, behaviour: n.behaviour.name, serials, window: n.window });
    await this.#d.afterRevoke?.();
  }

  async #ban(n: AnomalyNotice): Promise<void> {
    const bans = this.#d.bans;
    if (!bans) {
      this.#event('anomaly.mitigation_unavailable', 'warning', { device: n.deviceId, behaviour: n.behaviour.name, mitigation: 'ban' });
      return;
    }
    const spec = n.behaviour.ban ?? { kinds: ['username', 'client-id'] as BanKeyKind[], seconds: 3600 };
    const expiresAt = Date.now() + spec.seconds * 1000;
    const reason = `anomaly: ${n.behaviour.name} (${n.metric} ${n.value})`;
    for (const kind of spec.kinds) {
      const values = kind === 'address' ? (n.address ? [n.address] : []) : kind === 'certificate' ? await this.#serials(n.deviceId) : [n.deviceId];
      for (const value of values) {
        const input: BanInput = { kind, value, reason, expiresAt, by: 'anomaly' };
        const ban = await bans.add(input);
        this.#event('anomaly.banned', 'critical', { device: n.deviceId, behaviour: n.behaviour.name, kind, value, banId: ban.id, seconds: spec.seconds });
      }
    }
  }

  async #serials(deviceId: string): Promise<string[]> {
    return (await this.#d.store.certificates.listByDevice(deviceId)).filter((c) => c.kind === 'device' && c.revokedAt === null).map((c) => c.serial);
  }

  #sys(deviceId: string, body: Record<string, unknown>): void {
    // Anonymous principals are client ids, which may hold characters no topic level may.
    if (!this.#d.publish || !/^[A-Za-z0-9._-]{1,128}$/.test(deviceId)) return;
    // $SYS/... is never matched by a leading wildcard [MQTT-4.7.2-1]; policy decides who may read it.
    this.#d.publish({ topic: `${SYS_ANOMALY_PREFIX}${deviceId}`, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false, properties: {}, expiresAt: null, origin: null });
  }

  #event(type: string, severity: 'info' | 'warning' | 'critical', detail: Record<string, unknown>): void {
    this.#d.events.record(type, severity, { principal: ANOMALY_PRINCIPAL, detail });
  }
}
