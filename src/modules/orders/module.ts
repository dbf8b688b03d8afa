import { ordersMigrations } from '../../../migrations/orders/index.ts';
import { type Clock, systemClock } from '../../platform/clock.ts';
import type { ModuleDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createEventPipeline } from '../../platform/events/pipeline.ts';
import type { Logger } from '../../platform/log.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import { createInProcessOrders } from './adapters/in-process.ts';
import type { OrdersApi, OrdersEvents } from './contract.ts';
import { createOrderStore } from './event-store.ts';
import type { CatalogPort, PaymentsPort } from './ports.ts';
import type { OrdersDatabase } from './repository.ts';
import { createOrdersRoutes } from './routes.ts';
import { createSagaRunner } from './saga.ts';
import { createOrdersService } from './service.ts';

export interface OrdersModuleDeps {
  readonly database: ModuleDatabase<OrdersDatabase>;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly catalog: CatalogPort;
  readonly payments: PaymentsPort;
  /** How often unfinished sagas are looked for; 5 s by default. */
  readonly sagaSweepIntervalMs?: number;
  /** How long a place saga may try forward before it compensates; 30 s by default. */
  readonly sagaDeadlineMs?: number;
  /** How long a runner owns a saga without renewing; 5 s by default. */
  readonly leaseMs?: number;
  readonly clock?: Clock;
}

/** The orders module: event-sourced orders and the sagas that place and cancel them. */
export function createOrdersModule(deps: OrdersModuleDeps): ModuleInstance<OrdersApi> {
  const { database, bus, log, catalog, payments } = deps;
  const clock = deps.clock ?? systemClock;
  const leaseMs = deps.leaseMs ?? 5_000;
  const { outbox, relay } = createEventPipeline<OrdersDatabase, OrdersEvents>({
    db: database.db,
    bus,
    log,
    source: 'orders',
  });
  const store = createOrderStore({
    db: database.db,
    outbox,
    clock,
    leaseMs,
    deadlineMs: deps.sagaDeadlineMs ?? 30_000,
  });
  const runner = createSagaRunner({
    db: database.db,
    store,
    ports: { catalog, payments },
    clock,
    log: log.child({ component: 'order-saga' }),
    leaseMs,
    sweepIntervalMs: deps.sagaSweepIntervalMs ?? 5_000,
  });
  const api = createInProcessOrders(createOrdersService({ db: database.db, store, runner, clock }));
  return {
    name: 'orders',
    api,
    routes: createOrdersRoutes(api),
    migrations: ordersMigrations,
    subscriptions: [],
    // The composition root checks the database it opened.
    checks: {},
    async start() {
      relay.start();
      await runner.start();
    },
    async stop() {
      await runner.stop();
      await relay.stop();
    },
  };
}
