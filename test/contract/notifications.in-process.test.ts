import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import {
  createNotificationsModule,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import { defineNotificationsContract } from './notifications.contract.ts';

defineNotificationsContract('in-process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'notifications-contract-'));
  const database = openDatabase<NotificationsDatabase>({ url: `sqlite:${join(dir, 'notifications.db')}` });
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
