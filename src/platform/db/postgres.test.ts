import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTestDatabase,
  dropDatabase,
  POSTGRES_SERVER,
  type TestDatabase,
} from '../../../test/support/postgres.ts';
import { needs } from '../../../test/support/services.ts';
import type { EventBus } from '../events/bus.ts';
import type { EventEnvelope } from '../events/envelope.ts';
import { createOutbox } from '../events/outbox.ts';
import { createOutboxRelay } from '../events/relay.ts';
import { type EventTables, eventTablesMigration } from '../events/tables.ts';
import { type DatabaseOptions, type ModuleDatabase, migrateToLatest, openDatabase } from './database.ts';
import { ensurePostgresDatabase } from './postgres.ts';

interface Numbers {
  numbers: { id: number; n: number };
}
type TestEvents = { 'test.happened': { n: number } };

const log = pino({ level: 'silent' });

/** Resolves to what `promise` rejected with; fails the test if it resolved. */
function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: Error & { code?: string }) => error,
  );
}

/** A bus that records who published which event, each publish taking `delayMs` or until `hold` resolves. */
function countingBus(published: Array<{ by: string; id: string }>, by: string, hold?: () => Promise<void>) {
  const bus: EventBus = {
    kind: 'memory',
    async publish(event: EventEnvelope) {
      published.push({ by, id: event.id });
      await (hold ? hold() : new Promise((done) => setTimeout(done, 2)));
    },
    async subscribe() {},
    async check() {},
    async close() {},
  };
  return bus;
}

describe.skipIf(!(await needs('postgres')))('Postgres databases', () => {
  let server: TestDatabase;
  const opened: Array<ModuleDatabase<unknown>> = [];
  function open<DB>(options: Partial<DatabaseOptions> = {}): ModuleDatabase<DB> {
    const database = openDatabase<DB>({ url: server.url, ...options });
    opened.push(database as ModuleDatabase<unknown>);
    return database;
  }

  beforeAll(async () => {
    server = await createTestDatabase('platform_db');
    const setup = open<Numbers>();
    await setup.db.schema
      .createTable('numbers')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'bigint', (c) => c.notNull())
      .execute();
  });
  afterAll(async () => {
    for (const database of opened) await database.close();
    await server?.drop();
  });

  describe('openDatabase', () => {
    it('opens postgres:// and postgresql:// URLs, checks them, and ends the pool on close', async () => {
      for (const url of [server.url, server.url.replace('postgres://', 'postgresql://')]) {
        const database = openDatabase({ url });
        expect(database.kind).toBe('postgres');
        await database.check();
        await database.close();
        await failure(database.check());
      }
    });

    it('never shows the password of a URL it refuses', () => {
      expect(() => openDatabase({ url: 'mysql://shop:s3cret@db.example/shop' })).toThrow(
        /^Unsupported database URL: (?!.*s3cret)/,
      );
    });

    it('reads a BIGINT as a number and refuses one beyond Number.MAX_SAFE_INTEGER', async () => {
      const { db } = open<Numbers>();
      await db.insertInto('numbers').values({ id: 1, n: Number.MAX_SAFE_INTEGER }).execute();
      const row = await db.selectFrom('numbers').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
      expect(row.n).toBe(Number.MAX_SAFE_INTEGER);
      const { rows } = await sql<{ count: number }>`select count(*) as count from numbers`.execute(db);
      expect(rows[0]!.count).toBe(1);
      const error = await failure(sql`select ${Number.MAX_SAFE_INTEGER}::int8 + 1 as n`.execute(db));
      expect(error).toBeInstanceOf(RangeError);
      // The connection is still usable after the refusal.
      await sql`select 1`.execute(db);
    });

    it('counts its round trips, BEGIN and COMMIT included', async () => {
      const database = open<Numbers>();
      await database.check();
      const before = database.stats!().roundTrips!;
      await database.db.transaction().execute(async (trx) => {
        await trx.insertInto('numbers').values({ id: 40, n: 1 }).execute();
        await trx.updateTable('numbers').set({ n: 2 }).where('id', '=', 40).execute();
      });
      expect(database.stats!().roundTrips! - before).toBe(4);
    });

    it('leaves the pg defaults of other clients in the process alone', async () => {
      open<Numbers>();
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        const { rows } = await client.query('select 42::int8 as n');
        expect(rows[0].n).toBe('42');
      } finally {
        await client.end();
      }
    });

    it('sets a statement timeout, a lock timeout and an idle-in-transaction timeout on every connection', async () => {
      const { db } = open();
      const show = async (name: string) =>
        (await sql<Record<string, string>>`select current_setting(${name}) as value`.execute(db)).rows[0]!
          .value;
      expect(await show('statement_timeout')).toBe('5s');
      expect(await show('lock_timeout')).toBe('2s');
      expect(await show('idle_in_transaction_session_timeout')).toBe('1min');
    });

    it('cancels a statement that runs past its statement timeout', async () => {
      const { db } = open({ postgres: { statementTimeoutMs: 100 } });
      const started = Date.now();
      const error = await failure(sql`select pg_sleep(3)`.execute(db));
      expect(error.code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('fails a statement that waits for a lock past its lock timeout', async () => {
      const holder = open<Numbers>();
      const waiter = open<Numbers>({ postgres: { lockTimeoutMs: 100 } });
      await holder.db.insertInto('numbers').values({ id: 2, n: 0 }).execute();
      const error = await holder.db.transaction().execute(async (trx) => {
        await trx.updateTable('numbers').set({ n: 1 }).where('id', '=', 2).execute();
        return failure(waiter.db.updateTable('numbers').set({ n: 2 }).where('id', '=', 2).execute());
      });
      expect(error.code).toBe('55P03');
    });

    it('fails the transaction whose connection the server ends, not the process, and carries on', async () => {
      const errors: Error[] = [];
      const database = open({ postgres: { poolSize: 1, onConnectionError: (error) => errors.push(error) } });
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      try {
        const error = await failure(
          database.db.transaction().execute(async (trx) => {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
            // As idle_in_transaction_session_timeout or a server restart would end it, between two queries.
            await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
            await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0)).catch(() => {});
            await sql`select 1`.execute(trx);
          }),
        );
        expect(error.message).toMatch(/connection|terminat/i);
        expect(errors.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      // The pool of one dropped the dead connection and opens another.
      await database.check();
    });
  });

  describe('ensurePostgresDatabase', () => {
    it('creates a missing database once, even when callers race, and leaves it alone after', async () => {
      const name = `platform_ensure_${randomBytes(4).toString('hex')}`;
      const url = `${POSTGRES_SERVER}/${name}`;
      try {
        const created = await Promise.all(Array.from({ length: 4 }, () => ensurePostgresDatabase(url)));
        expect(created.filter(Boolean)).toHaveLength(1);
        expect(await ensurePostgresDatabase(url)).toBe(false);
        const database = openDatabase({ url });
        await database.check();
        await database.close();
      } finally {
        await dropDatabase(name);
      }
    });

    it('never shows the password of a server it cannot reach, or of a URL without a database', async () => {
      const error = await failure(ensurePostgresDatabase('postgres://postgres:s3cret@127.0.0.1:1/shop'));
      expect(error.message).toContain('127.0.0.1:1');
      expect(error.message).not.toContain('s3cret');
      const unnamed = await failure(ensurePostgresDatabase('postgres://postgres:s3cret@127.0.0.1:5432'));
      expect(unnamed.message).toContain('***');
      expect(unnamed.message).not.toContain('s3cret');
    });
  });

  describe('the outbox relay', () => {
    let relayDb: TestDatabase;
    let writer: ModuleDatabase<EventTables>;
    const relayDatabases: Array<ModuleDatabase<EventTables>> = [];

    beforeAll(async () => {
      relayDb = await createTestDatabase('platform_relay');
      writer = openDatabase<EventTables>({ url: relayDb.url });
      await migrateToLatest(writer.db as Kysely<unknown>, 'test', {
        '0000_event_tables': eventTablesMigration,
      });
    });
    afterAll(async () => {
      for (const database of relayDatabases) await database.close();
      await writer?.close();
      await relayDb?.drop();
    });

    async function emit(count: number): Promise<void> {
      await createOutbox<EventTables, TestEvents>(writer.db, 'test').transaction(async (_trx, raise) => {
        for (let n = 0; n < count; n++) raise('test.happened', { n });
      });
    }
    const unsent = async () =>
      (await writer.db.selectFrom('outbox').select('seq').where('sent_at', 'is', null).execute()).length;
    /** A relay as another process would run it: its own pool on the same database. */
    function relay(bus: EventBus, batchSize: number) {
      const database = openDatabase<EventTables>({ url: relayDb.url });
      relayDatabases.push(database);
      return createOutboxRelay({ db: database.db, bus, log, batchSize });
    }

    it('delivers every row exactly once when two relays drain one database', async () => {
      await emit(300);
      const published: Array<{ by: string; id: string }> = [];
      const a = relay(countingBus(published, 'a'), 10);
      const b = relay(countingBus(published, 'b'), 10);
      await Promise.all([a.drain(), b.drain()]);
      const ids = published.map((p) => p.id);
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
      // Both took batches: they ran side by side rather than one after the other.
      expect(published.some((p) => p.by === 'a') && published.some((p) => p.by === 'b')).toBe(true);
      expect(await unsent()).toBe(0);
    });

    it('skips the rows another relay holds rather than waiting for them', async () => {
      await emit(20);
      let release!: () => void;
      const held = new Promise<void>((done) => {
        release = done;
      });
      const published: Array<{ by: string; id: string }> = [];
      const a = relay(
        countingBus(published, 'a', () => held),
        5,
      );
      const draining = a.drain();
      try {
        await vi.waitFor(() => expect(published).toHaveLength(5));
        // Relay a holds its five rows in an open transaction; b delivers the other fifteen meanwhile.
        await relay(countingBus(published, 'b'), 5).drain();
        expect(published.filter((p) => p.by === 'b')).toHaveLength(15);
        expect(await unsent()).toBe(5);
      } finally {
        release();
      }
      await draining;
      expect(new Set(published.map((p) => p.id)).size).toBe(20);
      expect(published).toHaveLength(20);
      expect(await unsent()).toBe(0);
    });
  });
});
