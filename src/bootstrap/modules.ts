import type { FastifyPluginAsync } from 'fastify';
import {
  type CatalogApi,
  createCatalogHttpClient,
  createCatalogModule,
  createCatalogRpcRoutes,
} from '../modules/catalog/index.ts';
import {
  createNotificationsHttpClient,
  createNotificationsModule,
  createNotificationsRpcRoutes,
} from '../modules/notifications/index.ts';
import {
  createOrdersHttpClient,
  createOrdersModule,
  createOrdersRpcRoutes,
} from '../modules/orders/index.ts';
import {
  createPaymentsHttpClient,
  createPaymentsModule,
  createPaymentsRpcRoutes,
  type PaymentsApi,
} from '../modules/payments/index.ts';
import {
  createUsersHttpClient,
  createUsersModule,
  createUsersRpcRoutes,
  type UsersApi,
} from '../modules/users/index.ts';
import type { LoginThrottle } from '../platform/auth/login-throttle.ts';
import type { Config } from '../platform/config.ts';
import type { ModuleDatabase } from '../platform/db/database.ts';
import type { InstanceSource } from '../platform/discovery/instances.ts';
import type { EventBus } from '../platform/events/bus.ts';
import type { Logger } from '../platform/log.ts';
import type { ModuleInstance } from '../platform/module.ts';
import type { RpcClient } from '../platform/rpc/client.ts';
import type { InternalAuth } from '../platform/rpc/identity.ts';
import type { ModuleName } from './topology.ts';

/** What building a module may need: its database, the bus, and the contracts of the modules it calls. */
export interface ModuleContext {
  readonly config: Config;
  /** The module's own database, typed as the module declares it. */
  database<DB>(): ModuleDatabase<DB>;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly loginThrottle: LoginThrottle;
  /** The contract of another module: in process when hosted here, else its HTTP client. */
  api<M extends ModuleName>(module: M): ApiOf<M>;
}

interface Apis {
  users: UsersApi;
  catalog: CatalogApi;
  payments: PaymentsApi;
  notifications: unknown;
  orders: unknown;
}
export type ApiOf<M extends ModuleName> = Apis[M];

/** How to build a module, serve its contract to other processes, and call it from another process. */
export interface ModuleKit {
  create(context: ModuleContext): ModuleInstance<object>;
  rpcRoutes(api: never, auth: InternalAuth): FastifyPluginAsync;
  httpClient(options: { instances: InstanceSource; auth: InternalAuth; log: Logger }): RpcClient<object>;
  /** The modules whose contracts this one calls. */
  readonly calls: readonly ModuleName[];
}

/** Every module's kit: the one table that says how modules are put together. */
export const MODULE_KITS: Readonly<Record<ModuleName, ModuleKit>> = {
  users: {
    calls: [],
    create: (c) =>
      createUsersModule({
        database: c.database(),
        bus: c.bus,
        log: c.log,
        passwordHashConcurrency: c.config.passwordHashConcurrency,
        loginThrottle: c.loginThrottle,
      }),
    rpcRoutes: createUsersRpcRoutes,
    httpClient: createUsersHttpClient,
  },
  catalog: {
    calls: [],
    create: (c) => createCatalogModule({ database: c.database(), bus: c.bus, log: c.log }),
    rpcRoutes: createCatalogRpcRoutes,
    httpClient: createCatalogHttpClient,
  },
  payments: {
    calls: [],
    create: (c) => createPaymentsModule({ database: c.database(), bus: c.bus, log: c.log }),
    rpcRoutes: createPaymentsRpcRoutes,
    httpClient: createPaymentsHttpClient,
  },
  notifications: {
    calls: [],
    create: (c) => createNotificationsModule({ database: c.database(), bus: c.bus, log: c.log }),
    rpcRoutes: createNotificationsRpcRoutes,
    httpClient: createNotificationsHttpClient,
  },
  orders: {
    calls: ['catalog', 'payments'],
    create: (c) =>
      createOrdersModule({
        database: c.database(),
        bus: c.bus,
        log: c.log,
        catalog: c.api('catalog'),
        payments: c.api('payments'),
        sagaSweepIntervalMs: c.config.sagaSweepIntervalMs,
        sagaDeadlineMs: c.config.sagaDeadlineMs,
      }),
    rpcRoutes: createOrdersRpcRoutes,
    httpClient: createOrdersHttpClient,
  },
};
