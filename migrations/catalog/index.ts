import { type Kysely, sql } from 'kysely';
import type { Migrations } from '../../src/platform/db/database.ts';
import { eventTablesMigration } from '../../src/platform/events/tables.ts';

export const catalogMigrations: Migrations = {
  '0000_event_tables': eventTablesMigration,
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('products')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('price_minor', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('stock', 'integer', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        // The service never lets stock go below zero; this is the second line of defence.
        .addCheckConstraint('products_stock_not_negative', sql`stock >= 0`)
        .addCheckConstraint('products_price_not_negative', sql`price_minor >= 0`)
        .execute();
      await db.schema
        .createTable('reservations')
        .addColumn('reservation_id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('items', 'text', (c) => c.notNull())
        .addColumn('total_minor', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('reservations_state', sql`state in ('reserved', 'released')`)
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('reservations').execute();
      await db.schema.dropTable('products').execute();
    },
  },
};
