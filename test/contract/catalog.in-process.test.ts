import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { type CatalogModuleDeps, createCatalogModule } from '../../src/modules/catalog/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { defineCatalogContract } from './catalog.contract.ts';

defineCatalogContract('in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-contract-'));
  const database: CatalogModuleDeps['database'] = openDatabase({ url: `sqlite:${join(dir, 'catalog.db')}` });
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
