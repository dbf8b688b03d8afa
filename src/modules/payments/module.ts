import { paymentsMigrations } from '../../../migrations/payments/index.ts';
import type { ModuleDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createEventPipeline } from '../../platform/events/pipeline.ts';
import type { Logger } from '../../platform/log.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import { createInProcessPayments } from './adapters/in-process.ts';
import type { PaymentsApi, PaymentsEvents } from './contract.ts';
import type { PaymentsDatabase } from './repository.ts';
import { createPaymentsRoutes } from './routes.ts';
import { createPaymentsService } from './service.ts';

export interface PaymentsModuleDeps {
  readonly database: ModuleDatabase<PaymentsDatabase>;
  readonly bus: EventBus;
  readonly log: Logger;
}

/** The payments module: charges and refunds, with its own database and outbox. */
export function createPaymentsModule(deps: PaymentsModuleDeps): ModuleInstance<PaymentsApi> {
  const { database, bus, log } = deps;
  const { outbox, relay } = createEventPipeline<PaymentsDatabase, PaymentsEvents>({
    db: database.db,
    bus,
    log,
    source: 'payments',
  });
  const api = createInProcessPayments(createPaymentsService({ db: database.db, outbox }));
  return {
    name: 'payments',
    api,
    routes: createPaymentsRoutes(api),
    migrations: paymentsMigrations,
    subscriptions: [],
    // The composition root checks the database it opened; the module adds checks of its own, if any.
    checks: {},
    async start() {
      relay.start();
    },
    async stop() {
      await relay.stop();
    },
  };
}
