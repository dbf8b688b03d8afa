import type { Kysely } from 'kysely';
import { describe } from 'vitest';
import {
  createNotificationsModule,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import { defineNotificationsContract } from './notifications.contract.ts';

describe.skipIf(!(await needs('postgres')))('on Postgres', () => {
  defineNotificationsContract('in-process, Postgres', async () => {
    const server = await createTestDatabase('notifications_contract');
    const database = openDatabase<NotificationsDatabase>({ url: server.url });
    const bus = createMemoryBus();
    const module = createNotificationsModule({ database, bus, log: createLogger({ level: 'silent' }) });
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    await module.start();
    const subscription = module.subscriptions[0]!;
    return {
      api: module.api,
      deliver: (envelope) => subscription.handle(envelope),
      async close() {
        await module.stop();
        await bus.close();
        await database.close();
        await server.drop();
      },
    };
  });
});
