import { type Kysely, sql } from 'kysely';
import type { Migrations } from '../../src/platform/db/database.ts';
import { eventTablesMigration } from '../../src/platform/events/tables.ts';

export const notificationsMigrations: Migrations = {
  '0000_event_tables': eventTablesMigration,
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('contacts')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('email', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        // One notification per event, even if the inbox were bypassed.
        .addColumn('event_id', 'text', (c) => c.notNull().unique())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addCheckConstraint('notifications_channel', sql`channel in ('email')`)
        .addCheckConstraint('notifications_attempts', sql`attempts >= 0`)
        .execute();
      await db.schema
        .createIndex('notifications_user_id_id')
        .on('notifications')
        .columns(['user_id', 'id'])
        .execute();
      // Only unsent rows are ever looked for by the dispatcher, so the index holds only those.
      await db.schema
        .createIndex('notifications_unsent')
        .on('notifications')
        .column('next_attempt_at')
        .where(sql.ref('sent_at'), 'is', null)
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('notifications').execute();
      await db.schema.dropTable('contacts').execute();
    },
  },
};
