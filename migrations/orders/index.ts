import { type Kysely, sql } from 'kysely';
import type { Migrations } from '../../src/platform/db/database.ts';
import { eventTablesMigration } from '../../src/platform/events/tables.ts';

export const ordersMigrations: Migrations = {
  '0000_event_tables': eventTablesMigration,
  '0001_init': {
    async up(db: Kysely<unknown>) {
      // The source of truth: append-only; the primary key is the optimistic-concurrency check.
      await db.schema
        .createTable('order_events')
        .addColumn('order_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('order_events_pk', ['order_id', 'version'])
        .addCheckConstraint('order_events_version_positive', sql`version >= 1`)
        .execute();
      // The read model, rebuilt from order_events by `npm run rebuild-projections`.
      await db.schema
        .createTable('orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('total_minor', 'bigint')
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('items', 'text', (c) => c.notNull())
        .addColumn('cancel_reason', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('orders_status', sql`status in ('pending', 'confirmed', 'cancelled', 'shipped')`)
        .execute();
      await db.schema.createIndex('orders_user_id').on('orders').columns(['user_id', 'id']).execute();
      // One row per order whose saga has run; unfinished ones are what recovery and the sweep look for.
      await db.schema
        .createTable('sagas')
        .addColumn('order_id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('deadline_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('sagas_kind', sql`kind in ('place', 'cancel')`)
        .addCheckConstraint('sagas_status', sql`status in ('running', 'done')`)
        .execute();
      await db.schema.createIndex('sagas_due').on('sagas').columns(['status', 'next_attempt_at']).execute();
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('order_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'key'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('idempotency_keys').execute();
      await db.schema.dropTable('sagas').execute();
      await db.schema.dropTable('orders').execute();
      await db.schema.dropTable('order_events').execute();
    },
  },
};
