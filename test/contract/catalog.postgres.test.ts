import type { Kysely } from 'kysely';
import pino from 'pino';
import { describe } from 'vitest';
import { type CatalogModuleDeps, createCatalogModule } from '../../src/modules/catalog/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import { defineCatalogContract } from './catalog.contract.ts';

describe.skipIf(!(await needs('postgres')))('on Postgres', () => {
  defineCatalogContract('in-process, Postgres', async () => {
    const server = await createTestDatabase('catalog_contract');
    const database: CatalogModuleDeps['database'] = openDatabase({ url: server.url });
    const bus = createMemoryBus();
    const catalog = createCatalogModule({ database, bus, log: pino({ level: 'silent' }) });
    await migrateToLatest(database.db as Kysely<unknown>, catalog.name, catalog.migrations);
    await catalog.start();
    return {
      api: catalog.api,
      async close() {
        await catalog.stop();
        await bus.close();
        await database.close();
        await server.drop();
      },
    };
  });
});
