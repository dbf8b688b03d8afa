import { SERVICE_NAMES } from '../platform/config.ts';
import { ensurePostgresDatabase } from '../platform/db/postgres.ts';
import { generatedSecrets, launchTopology, topologyEnv } from './launcher.ts';
import { split } from './topology.ts';

/**
 * `npm run start:split`: the split topology on this machine, one Node process per module (two of
 * catalog) behind the gateway on :8000, against local Postgres (a database per service, created when
 * missing), RabbitMQ and Redis. Each line is prefixed by its process; Ctrl-C stops them all cleanly.
 */
const given = process.env;
const secrets = generatedSecrets();
const env: Record<string, string> = {
  PATH: given.PATH ?? '',
  HOME: given.HOME ?? '',
  LOG_LEVEL: given.LOG_LEVEL ?? 'info',
  JWT_SECRET: given.JWT_SECRET ?? secrets.JWT_SECRET!,
  SPLITSHOP_INTERNAL_SECRET: given.SPLITSHOP_INTERNAL_SECRET ?? secrets.SPLITSHOP_INTERNAL_SECRET!,
  ADMIN_PASSWORD: given.ADMIN_PASSWORD ?? secrets.ADMIN_PASSWORD!,
  AMQP_URL: given.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  REDIS_URL: given.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DATA_DIR: given.DATA_DIR ?? './data/split',
};
const postgresUrl = given.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
const databasePrefix = given.DATABASE_PREFIX ?? 'splitshop';

const shared = topologyEnv({ topology: split, env, postgresUrl, databasePrefix });
for (const module of SERVICE_NAMES)
  await ensurePostgresDatabase(shared[`${module.toUpperCase()}_DATABASE_URL`]!);

const width = 14;
const topology = await launchTopology({
  topology: split,
  env,
  postgresUrl,
  databasePrefix,
  onLine: (name, line) => process.stdout.write(`${`[${name}]`.padEnd(width)} ${line}\n`),
});
process.stdout.write(`\nSplitshop (split) is up: ${topology.baseUrl}\n`);
if (!given.ADMIN_PASSWORD) process.stdout.write(`admin password for this run: ${env.ADMIN_PASSWORD}\n`);

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping every process\n`);
  await topology.stop('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
for (const p of topology.processes) {
  void p.exited.then((code) => {
    if (!stopping) process.stdout.write(`[${p.name}] exited (${code}); the others keep running\n`);
  });
}
