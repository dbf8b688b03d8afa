import { type Generated, type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import { isPostgres } from '../db/database.ts';

/** Events waiting to be relayed, written in the same transaction as the state change. */
export interface OutboxTable {
  seq: Generated<number>;
  event_id: string;
  type: string;
  envelope: string;
  created_at: number;
  sent_at: number | null;
  attempts: Generated<number>;
  next_attempt_at: number;
  last_error: string | null;
  dead_at: number | null;
}

/** Event ids a consumer has applied, written in the same transaction as the effect. */
export interface InboxTable {
  consumer: string;
  event_id: string;
  handled_at: number;
}

export interface EventTables {
  outbox: OutboxTable;
  inbox: InboxTable;
}

/** The outbox and inbox tables, the first migration of every module that publishes or consumes. */
export const eventTablesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const seqType = isPostgres(db) ? sql`bigserial primary key` : sql`integer primary key autoincrement`;
    await db.schema
      .createTable('outbox')
      .addColumn('seq', sql`${seqType}`)
      .addColumn('event_id', 'text', (c) => c.notNull().unique())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('envelope', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('sent_at', 'bigint')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('dead_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('outbox_pending')
      .on('outbox')
      .columns(['sent_at', 'dead_at', 'seq'])
      .execute();
    await db.schema
      .createTable('inbox')
      .addColumn('consumer', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('handled_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('inbox_pk', ['consumer', 'event_id'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('inbox').execute();
    await db.schema.dropTable('outbox').execute();
  },
};

/** Views a module's database as its event tables (Kysely's database type is invariant). */
export function eventTablesOf<DB extends EventTables>(db: Kysely<DB>): Kysely<EventTables> {
  return db as unknown as Kysely<EventTables>;
}
