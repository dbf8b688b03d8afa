import { type Kysely, sql } from 'kysely';
import type { Migrations } from '../../src/platform/db/database.ts';
import { eventTablesMigration } from '../../src/platform/events/tables.ts';

export const paymentsMigrations: Migrations = {
  '0000_event_tables': eventTablesMigration,
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('payments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
        .addColumn('order_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount_minor', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('payment_method', 'text')
        // Set on refunds only; unique, so a charge is never refunded twice (NULLs do not collide).
        .addColumn('charge_key', 'text', (c) => c.unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addCheckConstraint('payments_kind', sql`kind in ('charge', 'refund')`)
        .addCheckConstraint('payments_status', sql`status in ('succeeded', 'failed')`)
        .addCheckConstraint('payments_amount_not_negative', sql`amount_minor >= 0`)
        .execute();
      await db.schema.createIndex('payments_order_id').on('payments').column('order_id').execute();
      await db.schema
        .createTable('closed_keys')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('closed_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('closed_keys').execute();
      await db.schema.dropTable('payments').execute();
    },
  },
};
