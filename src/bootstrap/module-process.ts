import { createLoginThrottle, redisLimiters } from '../platform/auth/login-throttle.ts';
import type { Config } from '../platform/config.ts';
import { systemContext } from '../platform/context.ts';
import { type ModuleDatabase, migrateToLatest } from '../platform/db/database.ts';
import { staticInstances } from '../platform/discovery/instances.ts';
import { type HealthCheck, type HealthChecks, healthRoutes } from '../platform/http/health.ts';
import { createEdge } from '../platform/http/server.ts';
import type { Logger } from '../platform/log.ts';
import { createMetricsRegistry, registerDatabaseMetrics } from '../platform/metrics.ts';
import type { ModuleInstance } from '../platform/module.ts';
import type { RpcClient } from '../platform/rpc/client.ts';
import type { InternalAuth } from '../platform/rpc/identity.ts';
import {
  createBus,
  edgeSettings,
  openModuleDatabase,
  openRedis,
  sessionsOf,
  subscribeSessions,
} from './infrastructure.ts';
import { type ApiOf, MODULE_KITS, type ModuleContext } from './modules.ts';
import type { Shop } from './process.ts';
import { MODULE_NAMES, type ModuleName, type ProcessRole } from './topology.ts';

/**
 * A process hosting modules: every module of the monolith with the public edge in front, or some
 * modules of a split topology behind the gateway. Modules hosted here use their in-process adapter;
 * modules hosted elsewhere, their HTTP client at the configured addresses.
 */
export async function buildModuleProcess(
  config: Config,
  log: Logger,
  role: ProcessRole,
  internalAuth: InternalAuth | undefined,
): Promise<Shop> {
  const hosted = MODULE_NAMES.filter((m) => role.modules.includes(m));
  const hostsAll = hosted.length === MODULE_NAMES.length;
  const bus = await createBus(config, hostsAll, log);
  const databases = new Map<ModuleName, ModuleDatabase<never>>();
  const modules = new Map<ModuleName, ModuleInstance<object>>();
  const clients = new Map<ModuleName, RpcClient<object>>();
  // Failed logins count in Redis when it is configured, so every users instance shares one count.
  const redis = role.modules.includes('users') ? openRedis(config, log) : undefined;
  const loginThrottle = createLoginThrottle({
    maxFailures: config.loginFailuresMax,
    windowSeconds: config.loginFailuresWindowSeconds,
    addressFailures: config.loginAddressFailuresMax,
    addressLogins: { max: config.loginAddressMax, windowSeconds: config.loginAddressWindowSeconds },
    addressConcurrency: config.loginAddressConcurrency,
    ...(redis ? { createLimiter: redisLimiters(redis) } : {}),
  });

  const api = <M extends ModuleName>(module: M): ApiOf<M> => {
    const local = modules.get(module);
    if (local) return local.api as ApiOf<M>;
    let client = clients.get(module);
    if (!client) {
      const urls =
        config.serviceUrls[module]
          ?.split(',')
          .map((u) => u.trim())
          .filter(Boolean) ?? [];
      if (urls.length === 0 || !internalAuth) {
        throw new Error(
          `${module.toUpperCase()}_URLS must give the instances of ${module}, which this process calls`,
        );
      }
      client = MODULE_KITS[module].httpClient({
        instances: staticInstances(urls),
        auth: internalAuth,
        log: log.child({ downstream: module }),
      });
      clients.set(module, client);
    }
    return client.api as ApiOf<M>;
  };

  // Modules start in MODULE_NAMES order, so a module's local dependencies exist before it.
  for (const name of hosted) {
    const database = await openModuleDatabase(config, name);
    databases.set(name, database);
    const context: ModuleContext = {
      config,
      database: <DB>() => database as unknown as ModuleDatabase<DB>,
      bus,
      log: log.child({ module: name }),
      loginThrottle,
      api,
    };
    const module = MODULE_KITS[name].create(context);
    await migrateToLatest(database.db, name, module.migrations);
    modules.set(name, module);
  }

  const settings = edgeSettings(config, log);
  // A public edge checks every token's session (see `AuthPluginOptions.sessions`); its cache is kept
  // current by the users module's events. Behind the gateway, the gateway has checked.
  const sessions = role.gateway ? sessionsOf(() => api('users'), log) : undefined;
  if (sessions) await subscribeSessions(bus, sessions);
  const app = await createEdge(
    sessions
      ? { ...settings, auth: { ...settings.auth, sessions } }
      : { ...settings, rateLimit: undefined, identity: 'internal', internalAuth: internalAuth! },
  );
  await app.register(healthRoutes, { checks: processChecks({ bus, databases, clients, modules }) });
  for (const [name, module] of modules) {
    await app.register(module.routes);
    if (internalAuth) await app.register(MODULE_KITS[name].rpcRoutes(module.api as never, internalAuth));
  }
  for (const module of modules.values()) {
    for (const subscription of module.subscriptions) {
      await bus.subscribe(subscription.consumer, subscription.types, (event) => subscription.handle(event));
    }
  }

  let started = false;
  // Stop in reverse start order: orders stops its sagas before the modules they call stop;
  // relays finish their batch before the bus and the databases close.
  app.addHook('onClose', async () => {
    if (started) {
      for (const module of [...modules.values()].reverse()) {
        await module.stop().catch((err) => log.error({ err, module: module.name }, 'module failed to stop'));
      }
    }
    for (const client of clients.values()) await client.close();
    redis?.disconnect();
    await bus.close();
    for (const database of databases.values()) await database.close();
  });

  const metrics = createMetricsRegistry(role.name);
  registerDatabaseMetrics(metrics, databases);
  return {
    app,
    role,
    metrics,
    async start() {
      for (const module of modules.values()) await module.start();
      started = true;
      const users = modules.get('users');
      if (!users) return { adminCreated: false };
      const { created } = await (users.api as ApiOf<'users'>).ensureAdmin(systemContext('bootstrap'), {
        password: config.adminPassword,
        email: config.adminEmail,
      });
      return { adminCreated: created };
    },
  };
}

/**
 * A module process's checks. Its own databases are required: without them it can serve nothing. The
 * bus is not: every module writes its events to an outbox, which waits for the broker, and a consumer
 * takes up its queue when the broker is back. Nor are the modules it calls in other processes: a
 * call to one that is down fails fast behind its breaker, and a saga waiting on it resumes later.
 */
function processChecks(parts: {
  readonly bus: { check(): Promise<void> };
  readonly databases: ReadonlyMap<ModuleName, ModuleDatabase<never>>;
  readonly clients: ReadonlyMap<ModuleName, RpcClient<object>>;
  readonly modules: ReadonlyMap<ModuleName, ModuleInstance<object>>;
}): HealthChecks {
  const checks: Record<string, HealthCheck> = {
    bus: {
      required: false,
      fallback: 'events wait in the outboxes, and consumers resume when it is back',
      run: () => parts.bus.check(),
    },
  };
  for (const [name, database] of parts.databases)
    checks[`${name}_db`] = { required: true, run: () => database.check() };
  for (const [name, client] of parts.clients) {
    checks[`${name}_service`] = {
      required: false,
      fallback: `calls to ${name} fail fast with 503 until its breaker closes`,
      run: () => client.check(),
    };
  }
  for (const module of parts.modules.values()) {
    for (const [name, check] of Object.entries(module.checks)) checks[`${module.name}_${name}`] = check;
  }
  return checks;
}
