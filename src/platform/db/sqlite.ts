import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export interface SqliteOptions {
  /** A file path, or `:memory:`. */
  readonly file: string;
  /** `FULL` where money is written: a committed transaction survives a power cut, not only a crash. */
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs?: number;
  /** How many prepared statements to keep; queries are built by Kysely, so their SQL repeats. */
  readonly statementCacheSize?: number;
}

/** Opens a better-sqlite3 database with the settings that keep data. */
export function openSqlite(options: SqliteOptions): Database.Database {
  if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`synchronous = ${options.synchronous}`);
  return db;
}

/** A read-only connection beside the writer: in WAL it reads the last commit and never waits for one. */
export function openSqliteReader(file: string, busyTimeoutMs = 5000): Database.Database {
  const db = new Database(file, { readonly: true });
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  return db;
}

/**
 * The subset of better-sqlite3 Kysely needs, with prepared statements reused: Kysely's driver calls
 * `prepare` for every query, which costs several times the query itself on small reads.
 */
export function withStatementCache(db: Database.Database, size = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        // Re-insert to keep the map in least-recently-used order.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql) as unknown as SqliteStatement;
        if (cache.size >= size) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
