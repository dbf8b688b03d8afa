import { type OrdersDatabase, ordersMigrations, rebuildOrderProjections } from '../modules/orders/index.ts';
import { loadConfig } from '../platform/config.ts';
import { migrateToLatest, openDatabase } from '../platform/db/database.ts';
import { databaseUrl } from './shop.ts';

/** `npm run rebuild-projections`: recomputes the order list from the order events alone. */
const config = loadConfig();
const database = openDatabase<OrdersDatabase>({ url: databaseUrl(config, 'orders'), synchronous: 'FULL' });
try {
  await migrateToLatest(database.db, 'orders', ordersMigrations);
  const count = await rebuildOrderProjections(database.db);
  process.stdout.write(`rebuilt the projection of ${count} orders from their events\n`);
} finally {
  await database.close();
}
