import { existsSync } from 'node:fs';
import { loadConfig } from '../platform/config.ts';
import { openDatabase } from '../platform/db/database.ts';
import { isPostgresUrl } from '../platform/db/postgres.ts';
import { replayDeadLetters as replayAmqpDeadLetters } from '../platform/events/amqp-dead-letters.ts';
import { replayDeadLetters as replayOutboxDeadLetters } from '../platform/events/relay.ts';
import type { EventTables } from '../platform/events/tables.ts';
import { databaseUrl } from './infrastructure.ts';
import { EVENT_CONSUMERS, MODULE_NAMES } from './topology.ts';

/**
 * `npm run replay-dead-letters [module…]`: puts dead letters back in line. Events a relay gave up on are
 * put back in their module's outbox; with `SPLITSHOP_TOPOLOGY=split` (events over RabbitMQ), messages a
 * consumer's queue dead-lettered are moved back from `<namespace>.<module>.dead` to its queue. Fix the
 * cause first: a poison event dies again.
 */
const config = loadConfig();
const wanted = process.argv.slice(2);
const amqp = config.bus === 'amqp' || config.topology !== 'monolith';
for (const module of MODULE_NAMES) {
  if (wanted.length > 0 && !wanted.includes(module)) continue;
  const url = databaseUrl(config, module);
  if (isPostgresUrl(url) || existsSync(url.slice('sqlite:'.length))) {
    const database = openDatabase<EventTables>({ url });
    try {
      process.stdout.write(
        `${module}: ${await replayOutboxDeadLetters(database.db)} outbox dead letter(s) put back\n`,
      );
    } finally {
      await database.close();
    }
  }
  if (amqp && EVENT_CONSUMERS.includes(module)) {
    const count = await replayAmqpDeadLetters(config.amqpUrl, module, config.amqpNamespace);
    process.stdout.write(`${module}: ${count} queue dead letter(s) put back\n`);
  }
}
