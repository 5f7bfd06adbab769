/**
 * Wiring of the queue, shadow and command services (issue 4, points 4 and 5), kept beside
 * gateway.ts so the composition root gains a few lines, not a page: the services over the
 * store, MQTT's part (shadow replies published by the router, commands delivered to sessions)
 * and the HTTPS route groups.
 */
import type { PalisadeConfig } from './config/schema.ts';
import { CommandService } from './core/commands/service.ts';
import type { CommandCounter } from './core/replay/outbound.ts';
import type { EventLog } from './core/events/event-log.ts';
import type { Authenticator } from './core/identity/authenticator.ts';
import type { Broker } from './core/messaging/broker.ts';
import type { DeviceMessaging } from './core/messaging/device-messaging.ts';
import type { OperatorService } from './core/operators/index.ts';
import type { PolicyEngine } from './core/policy/types.ts';
import type { Store } from './core/ports.ts';
import { QueueService } from './core/queues/service.ts';
import { ShadowService } from './core/shadows/service.ts';
import type { RouteGroup } from './protocols/http/app.ts';
import { commandRoutes } from './protocols/http/command-routes.ts';
import { DeviceAuth } from './protocols/http/device-auth.ts';
import { queueRoutes } from './protocols/http/queue-routes.ts';
import { adminShadowRoutes, deviceShadowRoutes } from './protocols/http/shadow-routes.ts';
import { mqttCommandTransport, publishShadowUpdates } from './protocols/mqtt/gateway-topics.ts';
import type { AuthThrottle } from './shield/auth-throttle.ts';

export interface Exchanges {
  queues: QueueService;
  shadows: ShadowService;
  commands: CommandService;
  stop(): void;
}

export function createExchanges(deps: { store: Store; events: EventLog; broker: Broker; config: PalisadeConfig; commandCounter?: CommandCounter | null }): Exchanges {
  const { store, events, broker, config } = deps;
  const queues = new QueueService({ repo: store.queues, events, settings: config.queues });
  const shadows = new ShadowService({ repo: store.shadows, events, maxBytes: config.shadows.maxBytes });
  const commands = new CommandService({ events, settings: config.commands, counter: deps.commandCounter ?? null });
  commands.setTransport(mqttCommandTransport(broker));
  const unpublish = publishShadowUpdates(shadows, broker);
  return {
    queues,
    shadows,
    commands,
    stop() {
      unpublish();
      queues.close();
    },
  };
}

export function exchangeRoutes(x: Exchanges, deps: { authenticator: Authenticator; policy: PolicyEngine; throttle: AuthThrottle; events: EventLog; messaging: DeviceMessaging; operators: OperatorService; config: PalisadeConfig; isBanned?: (deviceId: string) => boolean }): RouteGroup[] {
  const auth = new DeviceAuth({ authenticator: deps.authenticator, policy: deps.policy, throttle: deps.throttle, events: deps.events, messaging: deps.messaging, ...(deps.isBanned ? { isBanned: deps.isBanned } : {}) });
  return [
    queueRoutes({ queues: x.queues, auth, events: deps.events, bodyLimit: deps.config.queues.maxMessageBytes }),
    deviceShadowRoutes({ shadows: x.shadows, auth, events: deps.events, bodyLimit: deps.config.shadows.maxBytes * 2 }),
    adminShadowRoutes({ shadows: x.shadows, service: deps.operators, events: deps.events }),
    commandRoutes({ commands: x.commands, service: deps.operators }),
  ];
}
