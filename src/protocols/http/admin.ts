/** The admin API's route groups, built from what the composition root hands over. */
import type { EventLog } from '../../core/events/event-log.ts';
import { createOperatorService, type OperatorService, type SetupSecretPort } from '../../core/operators/index.ts';
import type { Store } from '../../core/ports.ts';
import type { SecretBox } from '../../core/secrets/index.ts';
import type { AuthThrottle } from '../../shield/auth-throttle.ts';
import { adminAuthRoutes } from './admin-auth-routes.ts';
import { adminRoutes } from './admin-routes.ts';
import type { RouteGroup } from './app.ts';

export interface AdminApiDeps {
  store: Store;
  events: EventLog;
  secrets: SecretBox;
  throttle: AuthThrottle;
  setupSecret: SetupSecretPort;
  checkPassword: (username: string, password: string) => void;
  afterRevoke?: () => Promise<void>;
}

export function adminApi(deps: AdminApiDeps): { service: OperatorService; routes: RouteGroup[] } {
  const service = createOperatorService({ operators: deps.store.operators, tokens: deps.store.operatorTokens, events: deps.events, secrets: deps.secrets, setupSecret: deps.setupSecret, checkPassword: deps.checkPassword });
  return {
    service,
    routes: [
      adminAuthRoutes({ service, throttle: deps.throttle, events: deps.events }),
      adminRoutes({ service, store: deps.store, ...(deps.afterRevoke ? { afterRevoke: deps.afterRevoke } : {}) }),
    ],
  };
}
