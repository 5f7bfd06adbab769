/**
 * Wires the anomaly detector into a running gateway: the mitigator with its store, broker and
 * ban list, the security event log as an input, the window timer. The shield inspector's
 * activity tap feeds `onPassed` (every protocol's messages that passed policy and the shield).
 */
import type { EventLog } from '../../core/events/event-log.ts';
import type { Broker } from '../../core/messaging/broker.ts';
import type { InboundMessage } from '../../core/messaging/inspection.ts';
import type { Store } from '../../core/ports.ts';
import type { Session } from '../../core/messaging/session.ts';
import type { BanList } from '../bans/types.ts';
import { AnomalyDetector } from './detector.ts';
import { Mitigator } from './mitigations.ts';
import type { AnomalySettings } from './types.ts';

export interface AnomalyDetection {
  readonly detector: AnomalyDetector;
  readonly mitigator: Mitigator;
  /** The inspector's activity tap (ShieldInspectorParts.onPassed). */
  readonly onPassed: (m: InboundMessage) => void;
  /** The broker's delivery hook (BrokerOptions.onSent): messages received per device. */
  readonly onDelivered: (session: Session) => void;
  stop(): Promise<void>;
}

export interface AnomalyDeps {
  settings: AnomalySettings;
  events: EventLog;
  store: Store;
  broker: Broker;
  bans: Pick<BanList, 'add'> | null;
  afterDeviceChange: () => Promise<void>;
  afterRevoke: () => Promise<void>;
}

export function startAnomalyDetection(deps: AnomalyDeps): AnomalyDetection {
  const { settings, broker } = deps;
  const mitigator = new Mitigator({
    events: deps.events,
    store: deps.store,
    publish: settings.sysTopic
      ? (message) => {
          // Like $SYS/broker/...: the broker's message statistics stay about device traffic.
          const before = broker.stats.messagesReceived;
          broker.publish(message);
          broker.stats.messagesReceived = before;
        }
      : null,
    webhook: settings.webhook.url === null ? null : { url: settings.webhook.url, timeoutMs: settings.webhook.timeoutMs, maxInFlight: settings.webhook.maxInFlight },
    bans: deps.bans,
    afterDeviceChange: deps.afterDeviceChange,
    afterRevoke: deps.afterRevoke,
  });
  const detector = new AnomalyDetector({
    settings,
    sink: mitigator,
    resolveSegment: async (id) => (await deps.store.devices.get(id))?.segment ?? null,
  });
  if (settings.enabled) {
    // onRecord, not onEvent: the log's per-type flood budget must not hide one device's refusals while another floods.
    deps.events.onRecord((e) => detector.onSecurityEvent(e));
    detector.start();
  }
  return {
    detector,
    mitigator,
    onPassed: (m) => detector.recordPublish(m.principal.id, m.principal.segment, m.topic, m.payload.length, m.source),
    onDelivered: (session) => detector.recordDelivery(session.principal.id),
    async stop() {
      detector.stop();
      await mitigator.settled();
    },
  };
}
