import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import {
  type CatalogModuleDeps,
  createCatalogHttpClient,
  createCatalogModule,
  createCatalogRpcRoutes,
} from '../../src/modules/catalog/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from '../support/rpc-host.ts';
import { defineCatalogContract } from './catalog.contract.ts';

// The catalog on its own SQLite file behind a real edge; the suite talks to it through the HTTP client.
defineCatalogContract('http', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-contract-http-'));
  const database: CatalogModuleDeps['database'] = openDatabase({ url: `sqlite:${join(dir, 'catalog.db')}` });
  const bus = createMemoryBus();
  const catalog = createCatalogModule({ database, bus, log: pino({ level: 'silent' }) });
  await migrateToLatest(database.db as Kysely<unknown>, catalog.name, catalog.migrations);
  await catalog.start();
  const host = await hostRpc(createCatalogRpcRoutes(catalog.api, testInternalAuth));
  const client = createCatalogHttpClient(clientOptionsFor(host));
  return {
    api: client.api,
    async close() {
      await client.close();
      await host.close();
      await catalog.stop();
      await bus.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
