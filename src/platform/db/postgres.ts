import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** How a module's connections to Postgres behave; every field has a default fit for a request path. */
export interface PostgresPoolOptions {
  /** Connections at most, per module and process; 10 by default. */
  readonly poolSize?: number;
  /** A statement running longer is cancelled by the server (SQLSTATE 57014); 5 s by default. */
  readonly statementTimeoutMs?: number;
  /** A statement waiting longer for a lock fails (SQLSTATE 55P03) rather than queueing; 2 s by default. */
  readonly lockTimeoutMs?: number;
  /** A session idle inside a transaction longer is ended, releasing its locks; 60 s by default. */
  readonly idleInTransactionTimeoutMs?: number;
  /** How long to wait for a new connection; 5 s by default. */
  readonly connectTimeoutMs?: number;
  /**
   * Told when a connection fails outside a query (the server ended the session). A query on it fails,
   * and the pool drops it and opens another on demand.
   */
  readonly onConnectionError?: (error: Error) => void;
}

/** Whether `url` names a Postgres database, as `postgres://…` or `postgresql://…`. */
export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

/** `url` without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: hide whatever sits between the scheme and the host.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

const INT8_OID = 20;

/** Reads an int8 as a number, refusing one a number cannot hold exactly rather than rounding money. */
export function parseBigint(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`A bigint value (${value}) is beyond what a JavaScript number holds exactly`);
  }
  return n;
}

/**
 * The type parsers of this project's clients: BIGINT as a number. Handed to each client rather than set
 * with `pg.types.setTypeParser`, so other users of `pg` in the process keep the default (text).
 */
export const splitshopPgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return parseBigint;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** What a module's pool has sent, for benchmarks and metrics. */
export interface PostgresStats {
  /** Queries sent, BEGIN and COMMIT included: pg sends each alone and waits for its answer. */
  roundTrips: number;
}

/** A bounded pool whose every connection carries the timeouts and type parsers above. */
export function createPostgresPool(
  url: string,
  options: PostgresPoolOptions = {},
  stats?: PostgresStats,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // Sent in the startup message, so they hold on every connection before its first query.
    statement_timeout: options.statementTimeoutMs ?? 5_000,
    lock_timeout: options.lockTimeoutMs ?? 2_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    types: splitshopPgTypes,
  });
  // An 'error' event without a listener crashes the process. pg-pool listens on idle connections only
  // and re-emits on the pool; this listener covers connections in use too, such as a relay's open
  // transaction ended by idle_in_transaction_session_timeout.
  pool.on('connect', (client) => {
    client.on('error', (error) => options.onConnectionError?.(error));
    if (stats === undefined) return;
    // pg has no per-query event; Kysely sends every statement, BEGIN and COMMIT through this method.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      stats.roundTrips += 1;
      return query(...args);
    }) as typeof client.query;
  });
  pool.on('error', () => {
    // Already reported by the connection's own listener above.
  });
  return pool;
}

/** Kysely over a pool made by `createPostgresPool`; destroying it ends the pool. */
export function openPostgres<DB>(
  url: string,
  options: PostgresPoolOptions = {},
  stats?: PostgresStats,
): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPostgresPool(url, options, stats) }) });
}

/**
 * Creates the database `url` names unless it exists, connecting to the server's `postgres` database.
 * Safe when several processes race to create it. Resolves true when this call created it.
 */
export async function ensurePostgresDatabase(
  url: string,
  options: { readonly connectTimeoutMs?: number } = {},
): Promise<boolean> {
  // URL's own error would carry the input, password and all.
  const server = URL.canParse(url) ? new URL(url) : undefined;
  const name = decodeURIComponent(server?.pathname.slice(1) ?? '');
  if (!server || !name) throw new Error(`Not a database URL with a database name: ${redactUrl(url)}`);
  server.pathname = '/postgres';
  const client = new pg.Client({
    connectionString: server.toString(),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  // A session ended between two queries fails the next one; without a listener it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`create database ${client.escapeIdentifier(name)}`);
    return true;
  } catch (error) {
    // 42P04 duplicate_database; 23505 when two CREATE DATABASE statements collide in the catalog.
    const code = (error as { code?: unknown }).code;
    if (code === '42P04' || code === '23505') return false;
    throw new Error(`Could not ensure the database ${name} on ${redactUrl(url)}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}
