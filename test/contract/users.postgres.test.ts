import type { Kysely } from 'kysely';
import { describe } from 'vitest';
import { createUsersModule, type UsersDatabase } from '../../src/modules/users/index.ts';
import { createLoginThrottle } from '../../src/platform/auth/login-throttle.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import { defineUsersContract } from './users.contract.ts';

describe.skipIf(!(await needs('postgres')))('on Postgres', () => {
  defineUsersContract('in-process, Postgres', async () => {
    const server = await createTestDatabase('users_contract');
    const database = openDatabase<UsersDatabase>({ url: server.url });
    const bus = createMemoryBus();
    const module = createUsersModule({
      database,
      bus,
      log: createLogger({ level: 'silent' }),
      passwordHashConcurrency: 4,
      loginThrottle: createLoginThrottle({ maxFailures: 10, windowSeconds: 900 }),
    });
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    await module.start();
    return {
      api: module.api,
      async close() {
        await module.stop();
        await bus.close();
        await database.close();
        await server.drop();
      },
    };
  });
});
