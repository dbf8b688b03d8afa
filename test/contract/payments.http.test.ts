import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import {
  createPaymentsHttpClient,
  createPaymentsModule,
  createPaymentsRpcRoutes,
  type PaymentsModuleDeps,
} from '../../src/modules/payments/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from '../support/rpc-host.ts';
import { definePaymentsContract } from './payments.contract.ts';

// Payments on its own SQLite file behind a real edge; the suite talks to it through the HTTP client.
definePaymentsContract('http', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'payments-contract-http-'));
  const database: PaymentsModuleDeps['database'] = openDatabase({
    url: `sqlite:${join(dir, 'payments.db')}`,
  });
  const bus = createMemoryBus();
  const payments = createPaymentsModule({ database, bus, log: pino({ level: 'silent' }) });
  await migrateToLatest(database.db as Kysely<unknown>, payments.name, payments.migrations);
  await payments.start();
  const host = await hostRpc(createPaymentsRpcRoutes(payments.api, testInternalAuth));
  const client = createPaymentsHttpClient(clientOptionsFor(host));
  return {
    api: client.api,
    async close() {
      await client.close();
      await host.close();
      await payments.stop();
      await bus.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
