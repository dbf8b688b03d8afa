import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type CatalogApi, createCatalogModule } from '../modules/catalog/index.ts';
import { createNotificationsModule } from '../modules/notifications/index.ts';
import { createOrdersModule } from '../modules/orders/index.ts';
import { createPaymentsModule, type PaymentsApi } from '../modules/payments/index.ts';
import { createUsersModule, type UsersApi } from '../modules/users/index.ts';
import { createLoginThrottle } from '../platform/auth/login-throttle.ts';
import type { Config } from '../platform/config.ts';
import { systemContext } from '../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../platform/db/database.ts';
import type { EventBus } from '../platform/events/bus.ts';
import { createMemoryBus } from '../platform/events/memory-bus.ts';
import { armCrashPoints } from '../platform/faults.ts';
import { healthRoutes } from '../platform/http/health.ts';
import { createEdge } from '../platform/http/server.ts';
import type { Logger } from '../platform/log.ts';
import type { ModuleInstance } from '../platform/module.ts';
import { DURABILITY, type ModuleName } from './topology.ts';

/** A built shop process: its edge, its modules, and how to start and stop them. */
export interface Shop {
  readonly app: FastifyInstance;
  readonly modules: ReadonlyMap<ModuleName, ModuleInstance<unknown>>;
  readonly users: UsersApi;
  /** Runs migrations' aftermath: starts relays, recovers sagas, creates the first admin. */
  start(): Promise<{ adminCreated: boolean }>;
}

/** The path of a module's SQLite file under the data directory. */
export function databaseUrl(config: Config, module: ModuleName): string {
  return `sqlite:${join(config.dataDir, `${module}.db`)}`;
}

/**
 * Builds the monolith: every module in this process with its in-process adapter, the in-memory bus,
 * one database per module, the edge with every module's public routes. Build and listen are separate
 * so tests can `inject` without a port (fastify's Testing guide).
 */
export async function buildShop(config: Config, log: Logger): Promise<Shop> {
  armCrashPoints(config.crashPoints);
  const bus: EventBus = createMemoryBus();
  const databases = new Map<ModuleName, ModuleDatabase<unknown>>();
  const open = <DB>(module: ModuleName): ModuleDatabase<DB> => {
    const database = openDatabase<DB>({ url: databaseUrl(config, module), synchronous: DURABILITY[module] });
    databases.set(module, database as unknown as ModuleDatabase<unknown>);
    return database;
  };
  const logFor = (module: ModuleName) => log.child({ module });

  const users = createUsersModule({
    database: open('users'),
    bus,
    log: logFor('users'),
    passwordHashConcurrency: config.passwordHashConcurrency,
    loginThrottle: createLoginThrottle({
      maxFailures: config.loginFailuresMax,
      windowSeconds: config.loginFailuresWindowSeconds,
    }),
  });
  const catalog = createCatalogModule({ database: open('catalog'), bus, log: logFor('catalog') });
  const payments = createPaymentsModule({ database: open('payments'), bus, log: logFor('payments') });
  const notifications = createNotificationsModule({
    database: open('notifications'),
    bus,
    log: logFor('notifications'),
  });
  const orders = createOrdersModule({
    database: open('orders'),
    bus,
    log: logFor('orders'),
    catalog: catalog.api satisfies Pick<CatalogApi, 'reserveStock' | 'releaseStock'>,
    payments: payments.api satisfies Pick<PaymentsApi, 'charge' | 'refund'>,
    sagaSweepIntervalMs: config.sagaSweepIntervalMs,
    sagaDeadlineMs: config.sagaDeadlineMs,
  });
  const modules = new Map<ModuleName, ModuleInstance<unknown>>([
    ['users', users],
    ['catalog', catalog],
    ['payments', payments],
    ['notifications', notifications],
    ['orders', orders],
  ]);

  for (const [name, module] of modules) {
    await migrateToLatest(databases.get(name)!.db, name, module.migrations);
  }

  const app = await createEdge({
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    auth: {
      secret: config.jwtSecret,
      ttlSeconds: config.jwtTtlSeconds,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clockSkewSeconds: config.jwtClockSkewSeconds,
    },
    rateLimit: { max: config.rateLimitMax, windowSeconds: config.rateLimitWindowSeconds },
  });
  const checks: Record<string, () => Promise<void>> = { bus: () => bus.check() };
  for (const [name, database] of databases) checks[`${name}_db`] = () => database.check();
  for (const module of modules.values()) {
    for (const [name, check] of Object.entries(module.checks)) checks[`${module.name}_${name}`] = check;
  }
  await app.register(healthRoutes, { checks });
  for (const module of modules.values()) await app.register(module.routes);

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
    await bus.close();
    for (const database of databases.values()) await database.close();
  });

  return {
    app,
    modules,
    users: users.api,
    async start() {
      for (const module of modules.values()) await module.start();
      started = true;
      const { created } = await users.api.ensureAdmin(systemContext('bootstrap'), {
        password: config.adminPassword,
        email: config.adminEmail,
      });
      return { adminCreated: created };
    },
  };
}
