/**
 * `$SYS/broker/...` statistics, retained and refreshed on an interval, in Mosquitto's topic
 * layout so existing dashboards read them. Topics starting with `$` are never matched by a
 * leading wildcard [MQTT-4.7.2-1], and policy still decides who may subscribe to them.
 */
import type { Broker } from './broker.ts';

export interface SysSources {
  broker: Broker;
  version: string;
  startedAt: number;
  connections: () => number;
}

export function sysSnapshot(s: SysSources): Record<string, string> {
  const b = s.broker;
  return {
    '$SYS/broker/version': `palisade ${s.version}`,
    '$SYS/broker/uptime': `${Math.floor((Date.now() - s.startedAt) / 1000)} seconds`,
    '$SYS/broker/clients/connected': String(b.connectedCount),
    '$SYS/broker/clients/total': String(b.sessionCount),
    '$SYS/broker/connections/open': String(s.connections()),
    '$SYS/broker/messages/received': String(b.stats.messagesReceived),
    '$SYS/broker/messages/sent': String(b.stats.messagesSent),
    '$SYS/broker/messages/dropped': String(b.stats.messagesDropped),
    '$SYS/broker/messages/denied': String(b.stats.publishDenied),
    '$SYS/broker/subscriptions/count': String(b.subscriptionCount),
    '$SYS/broker/retained messages/count': String(b.retainedCount),
  };
}

export function startSysTopics(s: SysSources, intervalSeconds: number): () => void {
  if (intervalSeconds <= 0) return () => undefined;
  const publish = (): void => {
    for (const [topic, value] of Object.entries(sysSnapshot(s))) {
      // Counted messages would include these: keep the statistics about device traffic.
      const before = s.broker.stats.messagesReceived;
      s.broker.publish({ topic, payload: Buffer.from(value), qos: 0, retain: true, properties: {}, expiresAt: null, origin: null });
      s.broker.stats.messagesReceived = before;
    }
  };
  publish();
  const timer = setInterval(publish, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
