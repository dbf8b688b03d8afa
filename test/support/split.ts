import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { type LaunchedTopology, launchTopology, topologyEnv } from '../../src/bootstrap/launcher.ts';
import { split } from '../../src/bootstrap/topology.ts';
import { SERVICE_NAMES } from '../../src/platform/config.ts';
import { ensurePostgresDatabase } from '../../src/platform/db/postgres.ts';
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
export async function startSplit(extraEnv: Record<string, string> = {}): Promise<SplitShop> {
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
  const shared = topologyEnv({ topology: split, env, postgresUrl: POSTGRES_URL, databasePrefix });
  for (const module of SERVICE_NAMES)
    await ensurePostgresDatabase(shared[`${module.toUpperCase()}_DATABASE_URL`]!);
  const lines: Array<{ name: string; line: string }> = [];
  const topology = await launchTopology({
    topology: split,
    env,
    postgresUrl: POSTGRES_URL,
    databasePrefix,
    onLine: (name, line) => lines.push({ name, line }),
  });
  return {
    baseUrl: topology.baseUrl,
    adminPassword: TEST_ADMIN_PASSWORD,
    topology,
    lines,
    async stop() {
      await topology.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropDatabases(databasePrefix);
    },
  };
}

async function dropDatabases(prefix: string): Promise<void> {
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
