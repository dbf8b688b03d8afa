import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { catalogMigrations } from '../migrations/catalog/index.ts';
import { notificationsMigrations } from '../migrations/notifications/index.ts';
import { ordersMigrations } from '../migrations/orders/index.ts';
import { paymentsMigrations } from '../migrations/payments/index.ts';
import { usersMigrations } from '../migrations/users/index.ts';
import { type Migrations, migrateToLatest, openDatabase } from '../src/platform/db/database.ts';
import { createTestDatabase } from './support/postgres.ts';
import { needs } from './support/services.ts';

const MODULES: Record<string, Migrations> = {
  users: usersMigrations,
  catalog: catalogMigrations,
  orders: ordersMigrations,
  payments: paymentsMigrations,
  notifications: notificationsMigrations,
};

/** Any table, any column: these tests look at the schema from outside the modules. */
type Tables = Record<string, Record<string, unknown>>;

/** Runs `work` on a fresh Postgres database with `module`'s migrations applied, then drops it. */
async function migrated(module: string, work: (db: Kysely<Tables>) => Promise<void>): Promise<void> {
  const server = await createTestDatabase(`migrations_${module}`);
  const database = openDatabase<Tables>({ url: server.url });
  try {
    await migrateToLatest(database.db, module, MODULES[module]!);
    await work(database.db);
  } finally {
    await database.close();
    await server.drop();
  }
}

async function violation(query: Promise<unknown>): Promise<string | undefined> {
  return query.then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );
}

describe.skipIf(!(await needs('postgres')))('migrations on Postgres', () => {
  for (const [module, migrations] of Object.entries(MODULES)) {
    it(`${module}: every migration, recorded in ${module}_migrations, and a second run changes nothing`, () =>
      migrated(module, async (db) => {
        await migrateToLatest(db, module, migrations);
        const rows = await db.selectFrom(`${module}_migrations`).select('name').orderBy('name').execute();
        expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
      }));
  }

  it('keeps every amount of money in a bigint column', async () => {
    for (const module of ['catalog', 'orders', 'payments']) {
      await migrated(module, async (db) => {
        const { rows } = await sql<{ column_name: string; data_type: string }>`
          select column_name, data_type from information_schema.columns
          where table_schema = 'public' and column_name like '%\\_minor'`.execute(db);
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.filter((r) => r.data_type !== 'bigint')).toEqual([]);
      });
    }
  });

  it('refuses negative stock and negative amounts, whatever the code does', async () => {
    await migrated('catalog', async (db) => {
      const product = {
        id: 'p1',
        name: 'Mug',
        description: '',
        price_minor: 100,
        currency: 'USD',
        stock: 1,
        version: 1,
        created_at: 'now',
        updated_at: 'now',
      };
      await db.insertInto('products').values(product).execute();
      expect(await violation(db.updateTable('products').set({ stock: -1 }).execute())).toBe('23514');
      expect(
        await violation(
          db
            .insertInto('products')
            .values({ ...product, id: 'p2', price_minor: -1 })
            .execute(),
        ),
      ).toBe('23514');
    });
    await migrated('payments', async (db) => {
      const payment = {
        id: 'pay1',
        idempotency_key: 'k1',
        order_id: 'o1',
        user_id: 'u1',
        kind: 'charge',
        amount_minor: -1,
        currency: 'USD',
        status: 'succeeded',
        created_at: 'now',
      };
      expect(await violation(db.insertInto('payments').values(payment).execute())).toBe('23514');
    });
  });
});
