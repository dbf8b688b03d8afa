import { loadConfig } from '../platform/config.ts';
import { openDatabase } from '../platform/db/database.ts';
import { messageChain } from '../platform/errors.ts';
import { replayDeadLetters as replayAmqpDeadLetters } from '../platform/events/amqp-dead-letters.ts';
import { replayDeadLetters as replayOutboxDeadLetters } from '../platform/events/relay.ts';
import type { EventTables } from '../platform/events/tables.ts';
import { databaseUrl, missingDatabase } from './infrastructure.ts';
import { EVENT_CONSUMERS, MODULE_NAMES, type ModuleName } from './topology.ts';

/**
 * `npm run replay-dead-letters [module…]`: puts dead letters back in line. Events a relay gave up on are
 * put back in their module's outbox; with `SPLITSHOP_TOPOLOGY=split` (events over RabbitMQ), messages a
 * consumer's queue dead-lettered are moved back from `<namespace>.<module>.dead` to its queue. Fix the
 * cause first: a poison event dies again.
 */
function fail(message: string, code: number): never {
  process.stderr.write(`replay-dead-letters: ${message}\n`);
  process.exit(code);
}

const config = loadConfig();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(MODULE_NAMES as readonly string[]).includes(name));
if (unknown.length > 0)
  fail(`no module named ${unknown.join(', ')}: the modules are ${MODULE_NAMES.join(', ')}`, 2);
const modules = wanted.length > 0 ? (wanted as ModuleName[]) : MODULE_NAMES;
const amqp = config.bus === 'amqp' || config.topology !== 'monolith';
let found = 0;
try {
  for (const module of modules) {
    const missing = missingDatabase(config, module);
    if (missing !== undefined) process.stdout.write(`${module}: ${missing}; nothing put back from it\n`);
    else {
      found++;
      const database = openDatabase<EventTables>({ url: databaseUrl(config, module) });
      try {
        const count = await replayOutboxDeadLetters(database.db);
        process.stdout.write(`${module}: ${count} outbox dead letter(s) put back\n`);
      } finally {
        await database.close();
      }
    }
    if (amqp && EVENT_CONSUMERS.includes(module)) {
      const count = await replayAmqpDeadLetters(config.amqpUrl, module, config.amqpNamespace);
      process.stdout.write(`${module}: ${count} queue dead letter(s) put back\n`);
    }
  }
} catch (err) {
  fail(messageChain(err), 1);
}
if (found === 0 && !amqp) fail('found none of the databases: is DATA_DIR where the shop keeps its data?', 1);
