/** The HTTPS device API's route group, built from what the composition root hands over. */
import type { EventLog } from '../../core/events/event-log.ts';
import type { Authenticator } from '../../core/identity/authenticator.ts';
import type { DeviceMessaging } from '../../core/messaging/device-messaging.ts';
import type { PolicyEngine } from '../../core/policy/types.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import type { RouteGroup } from './app.ts';
import { DeviceAuth } from './device-auth.ts';
import { deviceApiRoutes } from './device-routes.ts';

export interface DeviceHttpApiDeps {
  messaging: DeviceMessaging;
  authenticator: Authenticator;
  policy: PolicyEngine;
  throttle: AuthThrottle;
  events: EventLog;
  bodyLimit: number;
  /** Device ids on the shield's ban list (by username or client id). */
  isBanned?: (deviceId: string) => boolean;
  heartbeatMs?: number;
  drainTimeoutMs?: number;
}

export function deviceHttpApi(deps: DeviceHttpApiDeps): RouteGroup {
  const auth = new DeviceAuth({ authenticator: deps.authenticator, policy: deps.policy, throttle: deps.throttle, events: deps.events, messaging: deps.messaging, ...(deps.isBanned ? { isBanned: deps.isBanned } : {}) });
  const { heartbeatMs, drainTimeoutMs } = deps;
  return deviceApiRoutes({ messaging: deps.messaging, auth, events: deps.events, bodyLimit: deps.bodyLimit, ...(heartbeatMs === undefined ? {} : { heartbeatMs }), ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }) });
}
