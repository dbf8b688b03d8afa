import { Kysely, PostgresAdapter, sql } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';
import { GroupCommitSqliteDialect, type GroupCommitStats } from './group-commit.ts';
import {
  isPostgresUrl,
  openPostgres,
  type PostgresPoolOptions,
  type PostgresStats,
  redactUrl,
} from './postgres.ts';
import { openSqlite, openSqliteReader } from './sqlite.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

export type DatabaseStats = Partial<GroupCommitStats & PostgresStats>;

/** One module's database: its own file or its own Postgres database, never shared with another module. */
export interface ModuleDatabase<DB> {
  readonly db: Kysely<DB>;
  readonly kind: DatabaseKind;
  /** Answers when the database answers a trivial query. */
  check(): Promise<void>;
  /** What it has done so far: its group commit's counts on SQLite, its round trips on Postgres. */
  stats?(): Readonly<DatabaseStats>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `sqlite:<path>` (or `sqlite::memory:`), or `postgres://…` / `postgresql://…`. */
  readonly url: string;
  /** SQLite only. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Postgres only: pool size and timeouts. */
  readonly postgres?: PostgresPoolOptions;
}

/** Opens a module's database by its URL's scheme. Postgres connects lazily, on the first query. */
export function openDatabase<DB>(options: DatabaseOptions): ModuleDatabase<DB> {
  const { url } = options;
  if (isPostgresUrl(url)) {
    const stats: PostgresStats = { roundTrips: 0 };
    const db = openPostgres<DB>(url, options.postgres, stats);
    return {
      db,
      kind: 'postgres',
      stats: () => stats,
      async check() {
        await sql`select 1`.execute(db);
      },
      async close() {
        await db.destroy();
      },
    };
  }
  if (!url.startsWith('sqlite:')) throw new Error(`Unsupported database URL: ${redactUrl(url)}`);
  const file = url.slice('sqlite:'.length);
  const inMemory = file === ':memory:';
  // FULL on a file: the group commit syncs the WAL after each COMMIT itself, off the event loop.
  const syncWal = options.synchronous === 'FULL' && !inMemory;
  const raw = openSqlite({ file, synchronous: syncWal ? 'NORMAL' : (options.synchronous ?? 'NORMAL') });
  const dialect = new GroupCommitSqliteDialect(
    inMemory
      ? { writer: raw, flush: 'idle' }
      : { writer: raw, reader: openSqliteReader(file), ...(syncWal ? { syncWal: `${file}-wal` } : {}) },
  );
  const db = new Kysely<DB>({ dialect });
  return {
    db,
    kind: 'sqlite',
    stats: () => dialect.stats,
    async check() {
      raw.prepare('select 1').get();
    },
    async close() {
      await db.destroy();
    },
  };
}

/** Whether `db`, or a transaction of it, runs on Postgres. */
export function isPostgres<DB>(db: Kysely<DB>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** A module's migrations, in order of their names. */
export type Migrations = Readonly<Record<string, Migration>>;

/** Runs a module's migrations with its own migration table, so modules can share a database server. */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  module: string,
  migrations: Migrations,
): Promise<void> {
  const migrator = new Migrator({
    db: db as Kysely<unknown>,
    provider: { getMigrations: async () => ({ ...migrations }) },
    migrationTableName: `${module}_migrations`,
    migrationLockTableName: `${module}_migrations_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    // Without a failed migration, the database could not be read at all (unreachable, refused).
    const at = failed === undefined ? '' : ` at ${failed.migrationName}`;
    throw new Error(`Migrating ${module} failed${at}`, { cause: error });
  }
}
