import { createUsersHttpClient } from '../modules/users/index.ts';
import type { Config } from '../platform/config.ts';
import { staticInstances } from '../platform/discovery/instances.ts';
import { subscribeCacheInvalidation } from '../platform/gateway/cache.ts';
import { createGateway } from '../platform/gateway/gateway.ts';
import type { Logger } from '../platform/log.ts';
import { createMetricsRegistry } from '../platform/metrics.ts';
import type { InternalAuth } from '../platform/rpc/identity.ts';
import { createBus, edgeSettings, openRedis, sessionsOf, subscribeSessions } from './infrastructure.ts';
import type { Shop } from './process.ts';
import { KEYED_WRITES, MODULE_NAMES, type ProcessRole, PUBLIC_ROUTES } from './topology.ts';

/**
 * The gateway of a split topology: the public edge in front of the module processes, routing each path
 * to the service that owns it, with rate limits shared through Redis and an edge cache of product reads
 * that catalog events invalidate.
 */
export async function buildGatewayProcess(
  config: Config,
  log: Logger,
  role: ProcessRole,
  internalAuth: InternalAuth,
): Promise<Shop> {
  const services: Record<string, ReturnType<typeof staticInstances>> = {};
  for (const module of MODULE_NAMES) {
    const urls =
      config.serviceUrls[module]
        ?.split(',')
        .map((u) => u.trim())
        .filter(Boolean) ?? [];
    if (urls.length === 0)
      throw new Error(`${module.toUpperCase()}_URLS must give the instances of ${module}`);
    services[module] = staticInstances(urls);
  }
  const redis = openRedis(config, log);
  const settings = edgeSettings(config, log);
  // Every token is checked against the users module's sessions, cached here and kept current by its events.
  const users = createUsersHttpClient({
    instances: services.users!,
    auth: internalAuth,
    log: log.child({ downstream: 'users' }),
  });
  const sessions = sessionsOf(() => users.api, log);
  const app = await createGateway({
    log,
    edge: { ...settings, auth: { ...settings.auth, sessions }, rateLimit: settings.rateLimit! },
    routes: PUBLIC_ROUTES,
    keyedWrites: KEYED_WRITES,
    services,
    internalAuth,
    ...(redis ? { redis } : {}),
    // A placed order answers when its saga ends: the upstream timeout is the whole request's.
    upstream: { timeoutMs: config.requestTimeoutMs },
  });
  // The catalog's events reach a gateway over RabbitMQ: it hosts no module, so never over memory.
  const bus = await createBus(config, false, log);
  if (app.edgeCache) await subscribeCacheInvalidation(bus, app.edgeCache);
  await subscribeSessions(bus, sessions);
  app.addHook('onClose', async () => {
    await users.close();
    await bus.close();
    redis?.disconnect();
  });
  return {
    app,
    role,
    metrics: createMetricsRegistry(role.name),
    start: async () => ({ adminCreated: false }),
  };
}
