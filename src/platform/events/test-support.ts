import type { Kysely } from 'kysely';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../db/database.ts';
import { type EventTables, eventTablesMigration } from './tables.ts';

/** A test module's tables: the event tables, and one row per effect its handler applied. */
export interface EffectTables extends EventTables {
  effects: { event_id: string; n: number };
}

/** An in-memory SQLite database of a test module, migrated with the event tables and `effects`. */
export async function openEffectsDatabase(): Promise<ModuleDatabase<EffectTables>> {
  const database = openDatabase<EffectTables>({ url: 'sqlite::memory:' });
  await migrateToLatest(database.db as Kysely<unknown>, 'test', {
    '0000_event_tables': eventTablesMigration,
    '0001_effects': {
      up: (db) =>
        db.schema.createTable('effects').addColumn('event_id', 'text').addColumn('n', 'integer').execute(),
    },
  });
  return database;
}
