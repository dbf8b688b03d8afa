import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/shop.ts';
import { codesOf } from '../errors.ts';
import { type Migrations, migrateToLatest, openDatabase } from './database.ts';

const createThings = async (db: Kysely<unknown>) => {
  await sql`create table things (id integer primary key)`.execute(db);
};
const migrations = (second: (db: Kysely<unknown>) => Promise<void>): Migrations => ({
  '001_things': { up: createThings },
  '002_more': { up: second },
});

describe('migrateToLatest', () => {
  it('names the migration that failed, with its error as the cause', async () => {
    const { db, close } = openDatabase({ url: 'sqlite::memory:' });
    try {
      // The second migration creates the table the first did.
      const error = await migrateToLatest(db, 'things', migrations(createThings)).catch((err: Error) => err);
      expect((error as Error).message).toBe('Migrating things failed at 002_more');
      expect(String((error as Error).cause)).toMatch(/already exists/);
    } finally {
      await close();
    }
  });

  it('says only that migrating failed when the database cannot be reached, with the reason as the cause', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    const { db, close } = openDatabase({ url });
    try {
      const error = await migrateToLatest(
        db,
        'things',
        migrations(async () => undefined),
      ).catch((err: Error) => err);
      expect((error as Error).message).toBe('Migrating things failed');
      expect(codesOf(error)).toContain('ECONNREFUSED');
    } finally {
      await close();
    }
  });
});
