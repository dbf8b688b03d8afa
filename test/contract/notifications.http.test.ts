import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import {
  createNotificationsHttpClient,
  createNotificationsModule,
  createNotificationsRpcRoutes,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from '../support/rpc-host.ts';
import { defineNotificationsContract } from './notifications.contract.ts';

// Notifications behind a real edge, read through the HTTP client; events reach the module as its
// bus subscription would hand them over, in the process that hosts it.
defineNotificationsContract('http', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'notifications-contract-http-'));
  const database = openDatabase<NotificationsDatabase>({ url: `sqlite:${join(dir, 'notifications.db')}` });
  const bus = createMemoryBus();
  const module = createNotificationsModule({ database, bus, log: createLogger({ level: 'silent' }) });
  await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
  await module.start();
  const subscription = module.subscriptions[0]!;
  const host = await hostRpc(createNotificationsRpcRoutes(module.api, testInternalAuth));
  const client = createNotificationsHttpClient(clientOptionsFor(host));
  return {
    api: client.api,
    deliver: (envelope) => subscription.handle(envelope),
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
