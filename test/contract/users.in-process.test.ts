import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createUsersModule, type UsersDatabase } from '../../src/modules/users/index.ts';
import { createLoginThrottle } from '../../src/platform/auth/login-throttle.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { defineUsersContract } from './users.contract.ts';

defineUsersContract('in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'users-contract-'));
  const database = openDatabase<UsersDatabase>({ url: `sqlite:${join(dir, 'users.db')}` });
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
