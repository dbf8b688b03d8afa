import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { UsersApi, UsersEvents } from '../modules/users/index.ts';
import { createSessions, type Sessions } from '../platform/auth/sessions.ts';
import type { Config } from '../platform/config.ts';
import { systemContext } from '../platform/context.ts';
import { type ModuleDatabase, openDatabase } from '../platform/db/database.ts';
import { ensurePostgresDatabase, isPostgresUrl, redactUrl } from '../platform/db/postgres.ts';
import { hasCode } from '../platform/errors.ts';
import { createAmqpBus } from '../platform/events/amqp-bus.ts';
import type { EventBus } from '../platform/events/bus.ts';
import { createMemoryBus } from '../platform/events/memory-bus.ts';
import type { EdgeOptions } from '../platform/http/server.ts';
import { type Logger, repeatedFailureLog } from '../platform/log.ts';
import { DURABILITY, type ModuleName } from './topology.ts';

/** A module's database URL: configured, or its SQLite file under the data directory. */
export function databaseUrl(config: Config, module: ModuleName): string {
  return config.databaseUrls[module] ?? `sqlite:${join(config.dataDir, `${module}.db`)}`;
}

/** The setting that places a module's database, for messages about it. */
function databaseSetting(config: Config, module: ModuleName): string {
  return config.databaseUrls[module] ? `${module.toUpperCase()}_DATABASE_URL` : 'DATA_DIR';
}

/**
 * For the maintenance commands, which work on a shop's existing data: the setting that places a module's
 * database and where it points, when that is a SQLite file that does not exist (a wrong `DATA_DIR`,
 * most often), rather than creating an empty database there.
 */
export function missingDatabase(config: Config, module: ModuleName): string | undefined {
  const url = databaseUrl(config, module);
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  if (existsSync(file)) return undefined;
  return `there is no ${module} database at ${file} (${databaseSetting(config, module)})`;
}

export async function openModuleDatabase(config: Config, module: ModuleName): Promise<ModuleDatabase<never>> {
  const url = databaseUrl(config, module);
  try {
    if (isPostgresUrl(url)) await ensurePostgresDatabase(url);
    return await openDatabase<never>({ url, synchronous: DURABILITY[module] });
  } catch (cause) {
    throw new Error(`cannot open the ${module} database (${databaseSetting(config, module)})`, { cause });
  }
}

/** The in-memory bus when every module is here, else RabbitMQ. */
export async function createBus(config: Config, hostsAll: boolean, log: Logger): Promise<EventBus> {
  const kind = config.bus ?? (hostsAll ? 'memory' : 'amqp');
  if (kind === 'memory' && !hostsAll) {
    throw new Error(
      'SPLITSHOP_BUS=memory needs every module in this process: events would not reach the others',
    );
  }
  if (kind === 'memory') return createMemoryBus();
  try {
    return await createAmqpBus({
      url: config.amqpUrl,
      log: log.child({ component: 'amqp' }),
      namespace: config.amqpNamespace,
      prefetch: config.amqpPrefetch,
      deliveryLimit: config.amqpDeliveryLimit,
    });
  } catch (cause) {
    throw new Error(`cannot connect to RabbitMQ at ${redactUrl(config.amqpUrl)} (AMQP_URL)`, { cause });
  }
}

export function edgeSettings(config: Config, log: Logger): EdgeOptions {
  return {
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    auth: {
      secret: config.jwtSecret,
      ttlSeconds: config.jwtTtlSeconds,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clockSkewSeconds: config.jwtClockSkewSeconds,
    },
    rateLimit: { max: config.rateLimitMax, windowSeconds: config.rateLimitWindowSeconds },
  };
}

/**
 * Opens a Redis client for shared counters, with every key under this shop's prefix. Redis being
 * unreachable is something the shop lives with (rate limits and failed logins are then counted in this
 * process): the outage is logged once when it starts and once when it ends, not as ioredis's stack trace
 * on stderr for every reconnection attempt, which is what it writes when nobody listens for its errors.
 */
export function openRedis(config: Config, log: Logger): Redis | undefined {
  if (!config.redisUrl) return undefined;
  const redis = new Redis(config.redisUrl, {
    keyPrefix: config.redisKeyPrefix,
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    // A Redis that hangs must not hang a login or a request: counting falls back to memory.
    commandTimeout: 500,
  });
  const outage = repeatedFailureLog(
    log,
    'Redis is unreachable: rate limits and failed logins are counted in this process until it is back',
    // The host only: the URL may carry a password.
    {
      level: 'warn',
      recovered: 'Redis is reachable again',
      fields: { redis: URL.parse(config.redisUrl)?.host },
    },
  );
  redis.on('error', (err: Error) => outage.failed(err));
  redis.on('ready', () => outage.succeeded());
  return redis;
}

/**
 * The sessions tokens are checked against, read from the users module, in this process or another;
 * `users` is asked for its contract only when a session is first read.
 */
export function sessionsOf(users: () => UsersApi, log: Logger): Sessions {
  return createSessions({
    source: async (userId) => {
      try {
        const session = await users().session(systemContext('session-check'), userId);
        return { role: session.role, version: session.session_version };
      } catch (error) {
        if (hasCode(error, 'USER_NOT_FOUND')) return undefined;
        throw error;
      }
    },
    log: log.child({ component: 'sessions' }),
  });
}

/**
 * Keeps `sessions` current from the users module's events: one subscription of this process's own,
 * lost with it (nothing to replay: a new process starts with an empty cache), and a cache forgotten
 * whenever the subscription was interrupted, since events may have been missed meanwhile.
 */
export function subscribeSessions(bus: EventBus, sessions: Sessions): Promise<void> {
  return bus.subscribe(
    'edge-sessions',
    ['users.sessions_ended'],
    async (event) => {
      const { user_id, session_version } = event.data as UsersEvents['users.sessions_ended'];
      sessions.ended(user_id, session_version);
    },
    { durable: false, onResubscribed: () => sessions.clear() },
  );
}
