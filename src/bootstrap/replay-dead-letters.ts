import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../platform/config.ts';
import { openDatabase } from '../platform/db/database.ts';
import { replayDeadLetters } from '../platform/events/relay.ts';
import type { EventTables } from '../platform/events/tables.ts';
import { databaseUrl } from './shop.ts';
import { MODULE_NAMES } from './topology.ts';

/**
 * `npm run replay-dead-letters [module…]`: puts every dead-lettered event back in its outbox, to be
 * delivered again by the running shop's relay. Fix the cause first: a poison event dies again.
 */
const config = loadConfig();
const wanted = process.argv.slice(2);
for (const module of MODULE_NAMES) {
  if (wanted.length > 0 && !wanted.includes(module)) continue;
  if (!existsSync(join(config.dataDir, `${module}.db`))) continue;
  const database = openDatabase<EventTables>({ url: databaseUrl(config, module) });
  try {
    const count = await replayDeadLetters(database.db);
    process.stdout.write(`${module}: ${count} dead letter(s) put back in line\n`);
  } finally {
    await database.close();
  }
}
