import { catalogMigrations } from '../../../migrations/catalog/index.ts';
import type { ModuleDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createEventPipeline } from '../../platform/events/pipeline.ts';
import type { Logger } from '../../platform/log.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import { createInProcessCatalog } from './adapters/in-process.ts';
import type { CatalogApi, CatalogEvents } from './contract.ts';
import type { CatalogDatabase } from './repository.ts';
import { createCatalogRoutes } from './routes.ts';
import { createCatalogService } from './service.ts';

export interface CatalogModuleDeps {
  readonly database: ModuleDatabase<CatalogDatabase>;
  readonly bus: EventBus;
  readonly log: Logger;
}

/** The catalog module: products, prices and stock, with its own database and outbox. */
export function createCatalogModule(deps: CatalogModuleDeps): ModuleInstance<CatalogApi> {
  const { database, bus, log } = deps;
  const { outbox, relay } = createEventPipeline<CatalogDatabase, CatalogEvents>({
    db: database.db,
    bus,
    log,
    source: 'catalog',
  });
  const api = createInProcessCatalog(createCatalogService({ db: database.db, outbox }));
  return {
    name: 'catalog',
    api,
    routes: createCatalogRoutes(api),
    migrations: catalogMigrations,
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
