import type { Kysely } from 'kysely';
import pino from 'pino';
import { describe } from 'vitest';
import { createPaymentsModule, type PaymentsModuleDeps } from '../../src/modules/payments/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import { definePaymentsContract } from './payments.contract.ts';

describe.skipIf(!(await needs('postgres')))('on Postgres', () => {
  definePaymentsContract('in-process, Postgres', async () => {
    const server = await createTestDatabase('payments_contract');
    const database: PaymentsModuleDeps['database'] = openDatabase({ url: server.url });
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
        await server.drop();
      },
    };
  });
});
