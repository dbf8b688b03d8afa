import { configVariables, SERVICE_NAMES } from '../platform/config.ts';
import { ensurePostgresDatabase } from '../platform/db/postgres.ts';
import {
  busyPorts,
  generatedSecrets,
  type LaunchedProcess,
  launchTopology,
  topologyEnv,
} from './launcher.ts';
import { split } from './topology.ts';

/**
 * `npm run start:split`: the split topology on this machine, one Node process per module (two of
 * catalog) behind the gateway on :8000, against local Postgres (a database per service, created when
 * missing), RabbitMQ and Redis. Each line is prefixed by its process; Ctrl-C stops them all cleanly.
 *
 * Every setting of the configuration (README) given in the environment reaches every process, except
 * those the topology decides for each one (its port, host and modules: see `topologyEnv`). Besides them:
 * `POSTGRES_URL` (the server, without a database), `DATABASE_PREFIX` (each module's database is
 * `<prefix>_<module>`) and `SPLITSHOP_PORT_OFFSET` (added to every port, for a second shop beside the
 * first).
 */
const given = process.env;

function fail(message: string): never {
  process.stderr.write(`start:split: ${message}\n`);
  process.exit(1);
}

const portOffset = Number(given.SPLITSHOP_PORT_OFFSET ?? 0);
if (!Number.isSafeInteger(portOffset) || portOffset < 0 || portOffset > 50_000)
  fail(`SPLITSHOP_PORT_OFFSET must be a whole number from 0 to 50000, not ${given.SPLITSHOP_PORT_OFFSET}`);

const secrets = generatedSecrets();
const env: Record<string, string> = {
  PATH: given.PATH ?? '',
  HOME: given.HOME ?? '',
  LOG_LEVEL: 'info',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATA_DIR: './data/split',
};
for (const name of Object.keys(configVariables)) {
  const value = given[name];
  if (value !== undefined && value !== '') env[name] = value;
}
// Made up for this run when not given. ADMIN_PASSWORD is not: the users process makes one up and
// prints it only when it creates the admin, so a later start never shows a password that is not the admin's.
env.JWT_SECRET ??= secrets.JWT_SECRET!;
env.SPLITSHOP_INTERNAL_SECRET ??= secrets.SPLITSHOP_INTERNAL_SECRET!;

const postgresUrl = given.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
const databasePrefix = given.DATABASE_PREFIX ?? 'splitshop';

const busy = await busyPorts(split, portOffset);
if (busy.length > 0)
  fail(
    `port ${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} already in use (another Splitshop?). ` +
      'Stop it, or set SPLITSHOP_PORT_OFFSET to move every port of this one.',
  );

const shared = topologyEnv({ topology: split, env, postgresUrl, databasePrefix, portOffset });
for (const module of SERVICE_NAMES) {
  await ensurePostgresDatabase(shared[`${module.toUpperCase()}_DATABASE_URL`]!).catch((err: unknown) =>
    // The host only: the URL may carry a password.
    fail(
      `cannot create the ${module} database on ${URL.parse(postgresUrl)?.host}: ${(err as Error).message}`,
    ),
  );
}

/** The password the users process made up for the admin it created, seen in its log. */
let generatedAdminPassword: string | undefined;
const width = 16;
const topology = await launchTopology({
  topology: split,
  env,
  postgresUrl,
  databasePrefix,
  portOffset,
  onLine: (name, line) => {
    if (name === 'users' && line.includes('"generated_admin_password"')) {
      try {
        generatedAdminPassword = JSON.parse(line).generated_admin_password;
      } catch {
        // Not a log record: nothing to remember.
      }
    }
    process.stdout.write(`${`[${name}]`.padEnd(width)} ${line}\n`);
  },
}).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
process.stdout.write(`\nSplitshop (split) is up: ${topology.baseUrl}\n`);
if (generatedAdminPassword !== undefined)
  process.stdout.write(
    `Created the admin (username admin) with the password ${generatedAdminPassword}: it is shown only this once.\n`,
  );
else if (given.ADMIN_PASSWORD === undefined)
  process.stdout.write(
    'The admin (username admin) already existed: its password is the one it was created with.\n',
  );

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) {
    // Asked again while the processes finish what they were doing: stop them now.
    process.stdout.write(`\n${signal} again: killing every process\n`);
    await topology.stop('SIGKILL');
    process.exit(1);
  }
  stopping = true;
  process.stdout.write(
    `\n${signal}: stopping every process, the gateway first (${signal} again kills them)\n`,
  );
  await topology.stop('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
/**
 * A process that exits on its own is started again, as compose's `restart: unless-stopped` does: after
 * a second, and twice as long each time it dies again within a minute of its start, up to 30 s.
 */
function restartWhenItExits(p: LaunchedProcess, delayMs = 1000): void {
  const upSince = Date.now();
  void p.exited.then(async (code) => {
    if (stopping) return;
    const wait = Date.now() - upSince < 60_000 ? delayMs : 1000;
    process.stdout.write(`[${p.name}] exited (${code}); starting it again in ${wait / 1000} s\n`);
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (stopping) return;
    try {
      await topology.restart(p);
      process.stdout.write(`[${p.name}] is back\n`);
    } catch (err) {
      if (!stopping)
        process.stdout.write(`[${p.name}] did not come back: ${err instanceof Error ? err.message : err}\n`);
    }
    restartWhenItExits(p, Math.min(wait * 2, 30_000));
  });
}
for (const p of topology.processes) restartWhenItExits(p);
