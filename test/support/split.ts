import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import {
  busyPorts,
  type LaunchedTopology,
  launchTopology,
  topologyEnv,
} from '../../src/bootstrap/launcher.ts';
import { type ModuleName, split, type Topology } from '../../src/bootstrap/topology.ts';
import { SERVICE_NAMES } from '../../src/platform/config.ts';
import { ensurePostgresDatabase } from '../../src/platform/db/postgres.ts';
import { deleteNamespace } from './broker.ts';
import { type ShopHandle, TEST_ADMIN_PASSWORD, TEST_JWT_SECRET, tempDataDir } from './shop.ts';

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432';
export const TEST_INTERNAL_SECRET = 'test-internal-secret-long-enough-for-hs256-0123456789';

export interface SplitShop extends ShopHandle {
  readonly topology: LaunchedTopology;
  /** Every log line of every process, with its process name. */
  readonly lines: Array<{ name: string; line: string }>;
}

/**
 * The split topology as separate Node processes on loopback ports, against the local Postgres (fresh
 * databases named for this run), RabbitMQ (its own namespace) and Redis, as `npm run start:split` runs it.
 */
export async function startSplit(
  extraEnv: Record<string, string> = {},
  topology: Topology = split,
): Promise<SplitShop> {
  const run = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = tempDataDir('splitshop-split-');
  const databasePrefix = `splitshop_${run}`;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    JWT_SECRET: TEST_JWT_SECRET,
    SPLITSHOP_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
    AMQP_NAMESPACE: `splitshop.${run}`,
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `splitshop:${run}:`,
    RATE_LIMIT_MAX: '5000',
    ...extraEnv,
  };
  const portOffset = await freePortBlock(topology);
  const shared = topologyEnv({ topology, env, postgresUrl: POSTGRES_URL, databasePrefix, portOffset });
  for (const module of SERVICE_NAMES)
    await ensurePostgresDatabase(shared[`${module.toUpperCase()}_DATABASE_URL`]!);
  const lines: Array<{ name: string; line: string }> = [];
  const launched = await launchTopology({
    topology,
    env,
    postgresUrl: POSTGRES_URL,
    databasePrefix,
    portOffset,
    onLine: (name, line) => lines.push({ name, line }),
  });
  return {
    baseUrl: launched.baseUrl,
    adminPassword: TEST_ADMIN_PASSWORD,
    databases: Object.fromEntries(
      SERVICE_NAMES.map((m) => [m, shared[`${m.toUpperCase()}_DATABASE_URL`]!]),
    ) as Record<ModuleName, string>,
    amqp: { url: env.AMQP_URL, namespace: env.AMQP_NAMESPACE },
    topology: launched,
    lines,
    async stop() {
      await launched.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropDatabases(databasePrefix);
      await deleteNamespace(env.AMQP_URL, env.AMQP_NAMESPACE);
    },
  };
}

/**
 * A port offset under which every port of `topology` is free, so suites (and developers' own
 * `npm run start:split` on the usual ports) can run side by side on one machine.
 */
export async function freePortBlock(topology: Topology = split): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Every port of the block stays below Linux's ephemeral range (32768 and up): a port found free
    // there can be taken by any outgoing connection before the process that is to listen on it starts.
    const offset = randomInt(10, 240) * 100;
    if ((await busyPorts(topology, offset)).length === 0) return offset;
  }
  throw new Error('no free block of ports for the split topology');
}

/** Drops the databases of a run (`<prefix>_<module>`). */
export async function dropDatabases(prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${POSTGRES_URL}/postgres` });
  await client.connect();
  try {
    for (const module of SERVICE_NAMES) {
      await client.query(`DROP DATABASE IF EXISTS "${prefix}_${module}" WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}
