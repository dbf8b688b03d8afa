import { type Kysely, sql } from 'kysely';
import type { Migrations } from '../../src/platform/db/database.ts';
import { eventTablesMigration } from '../../src/platform/events/tables.ts';

export const usersMigrations: Migrations = {
  '0000_event_tables': eventTablesMigration,
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        // Stored lowercased, so a plain unique index makes emails unique case-insensitively.
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('users_username_unique', ['username'])
        .addUniqueConstraint('users_email_unique', ['email'])
        .addCheckConstraint('users_role_check', sql`role in ('customer', 'admin')`)
        .execute();
      await db.schema.createIndex('users_role').on('users').column('role').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('users').execute();
    },
  },
  // Moved on by every change of role or password, and carried by every token as `ver`: the
  // tokens issued before a change are refused.
  '0002_session_version': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('session_version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('users').dropColumn('session_version').execute();
    },
  },
};
