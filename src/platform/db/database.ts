import { Kysely, PostgresAdapter } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';
import { openSqlite, SplitshopSqliteDialect, withStatementCache } from './sqlite.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

/** One module's database: its own file or its own Postgres database, never shared with another module. */
export interface ModuleDatabase<DB> {
  readonly db: Kysely<DB>;
  readonly kind: DatabaseKind;
  /** Answers when the database answers a trivial query. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `sqlite:<path>` (or `sqlite::memory:`); Postgres URLs arrive with the split topology. */
  readonly url: string;
  readonly synchronous?: 'FULL' | 'NORMAL';
}

export function openDatabase<DB>(options: DatabaseOptions): ModuleDatabase<DB> {
  const { url } = options;
  if (!url.startsWith('sqlite:'))
    throw new Error(`Unsupported database URL: ${url.replace(/\/\/.*@/, '//***@')}`);
  const raw = openSqlite({ file: url.slice('sqlite:'.length), synchronous: options.synchronous ?? 'NORMAL' });
  const db = new Kysely<DB>({ dialect: new SplitshopSqliteDialect(withStatementCache(raw)) });
  return {
    db,
    kind: 'sqlite',
    async check() {
      raw.prepare('select 1').get();
    },
    async close() {
      await db.destroy();
    },
  };
}

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
    throw new Error(`Migrating ${module} failed at ${failed?.migrationName ?? '?'}`, { cause: error });
  }
}
