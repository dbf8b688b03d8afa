import { type OrdersDatabase, ordersMigrations, rebuildOrderProjections } from '../modules/orders/index.ts';
import { loadConfig } from '../platform/config.ts';
import { migrateToLatest, openDatabase } from '../platform/db/database.ts';
import { messageChain } from '../platform/errors.ts';
import { databaseUrl, missingDatabase } from './infrastructure.ts';

/** `npm run rebuild-projections`: recomputes the order list from the order events alone. */
function fail(message: string): never {
  process.stderr.write(`rebuild-projections: ${message}\n`);
  process.exit(1);
}

const config = loadConfig();
const missing = missingDatabase(config, 'orders');
// Rebuilding from no events would only create an empty database where the shop's is not.
if (missing !== undefined) fail(`${missing}: set it to where the shop keeps its data`);
try {
  const database = openDatabase<OrdersDatabase>({ url: databaseUrl(config, 'orders'), synchronous: 'FULL' });
  try {
    await migrateToLatest(database.db, 'orders', ordersMigrations);
    const count = await rebuildOrderProjections(database.db);
    process.stdout.write(`rebuilt the projection of ${count} orders from their events\n`);
  } finally {
    await database.close();
  }
} catch (err) {
  fail(messageChain(err));
}
