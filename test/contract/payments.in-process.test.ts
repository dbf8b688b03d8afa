import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { createPaymentsModule, type PaymentsModuleDeps } from '../../src/modules/payments/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { definePaymentsContract } from './payments.contract.ts';

definePaymentsContract('in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'payments-contract-'));
  const database: PaymentsModuleDeps['database'] = openDatabase({
    url: `sqlite:${join(dir, 'payments.db')}`,
  });
  const bus = createMemoryBus();
  const payments = createPaymentsModule({ database, bus, log: pino({ level: 'silent' }) });
  await migrateToLatest(database.db as Kysely<unknown>, payments.name, payments.migrations);
  await payments.start();
  return {
    api: payments.api,
    async close() {
      await payments.stop();
      await bus.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
