import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import {
  createUsersHttpClient,
  createUsersModule,
  createUsersRpcRoutes,
  type UsersDatabase,
} from '../../src/modules/users/index.ts';
import { createLoginThrottle } from '../../src/platform/auth/login-throttle.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from '../support/rpc-host.ts';
import { defineUsersContract } from './users.contract.ts';

// The users module on its own SQLite file behind a real edge; the suite talks to it through the HTTP client.
defineUsersContract('http', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'users-contract-http-'));
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
  const host = await hostRpc(createUsersRpcRoutes(module.api, testInternalAuth));
  const client = createUsersHttpClient(clientOptionsFor(host));
  return {
    api: client.api,
    async close() {
      await client.close();
      await host.close();
      await module.stop();
      await bus.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
