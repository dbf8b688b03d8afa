import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './errors.ts';
import { type GroupCommitOptions, GroupCommitSqliteDialect } from './group-commit.ts';
import { openSqlite, openSqliteReader } from './sqlite.ts';

interface Tables {
  t: { id: number };
  parent: { id: number };
  child: { id: number; parent_id: number };
}

describe('group commit on SQLite', () => {
  const dirs: string[] = [];
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function open(wal?: Pick<GroupCommitOptions, 'sync'>) {
    const dir = mkdtempSync(join(tmpdir(), 'splitshop-group-'));
    dirs.push(dir);
    const file = join(dir, 'test.db');
    const writer = openSqlite({ file, synchronous: wal ? 'NORMAL' : 'FULL' });
    const dialect = new GroupCommitSqliteDialect({
      writer,
      reader: openSqliteReader(file),
      ...(wal ? { syncWal: `${file}-wal`, ...wal } : {}),
    });
    const db = new Kysely<Tables>({ dialect });
    await db.schema
      .createTable('t')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute();
    await db.schema
      .createTable('parent')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute();
    await db.schema
      .createTable('child')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('parent_id', 'integer', (c) => c.notNull().references('parent.id'))
      .execute();
    // What another process sees: only what is committed.
    const outside = new Database(file, { readonly: true });
    closers.push(
      () => {
        outside.close();
      },
      () => db.destroy(),
    );
    const committed = () =>
      (outside.prepare('select id from t order by id').all() as Tables['t'][]).map((r) => r.id);
    return { db, dialect, committed };
  }

  it('commits concurrent transactions together, each answered only once its group is on disk', async () => {
    const { db, dialect, committed } = await open();
    const before = { ...dialect.stats };
    const seenAtAnswer: boolean[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        db
          .transaction()
          .execute(async (trx) => {
            await trx.insertInto('t').values({ id: i }).execute();
          })
          .then(() => seenAtAnswer.push(committed().includes(i))),
      ),
    );
    expect(seenAtAnswer).toEqual(Array.from({ length: 50 }, () => true));
    expect(dialect.stats.units - before.units).toBe(50);
    // The first runs alone; the 49 that queued behind it share the next COMMIT.
    expect(dialect.stats.commits - before.commits).toBeLessThanOrEqual(2);
    expect(committed()).toHaveLength(50);
  });

  it('rolls back a unit that throws alone; the others of its group commit', async () => {
    const { db, dialect, committed } = await open();
    const unit = (id: number, fail: boolean) =>
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id }).execute();
        if (fail) throw new Error(`unit ${id} fails`);
      });
    const results = await Promise.allSettled([unit(1, false), unit(2, true), unit(3, false)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(dialect.stats.rollbacks).toBe(1);
    expect(committed()).toEqual([1, 3]);
  });

  it('tells a unit that failed on a row of its group only once that row is committed', async () => {
    const { db } = await open();
    // Two requests with one key: the second fails on the first's row, then looks the row up.
    const insert = () => db.transaction().execute((trx) => trx.insertInto('t').values({ id: 1 }).execute());
    const first = insert();
    const second = insert().catch(async (error: { code?: string }) => ({
      code: error.code,
      seen: await db.selectFrom('t').select('id').execute(),
    }));
    await first;
    expect(await second).toEqual({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY', seen: [{ id: 1 }] });
  });

  it('fails every unit of a group whose COMMIT fails, and leaves the database as it was', async () => {
    const { db, committed } = await open();
    await db.insertInto('t').values({ id: 1 }).execute();
    // A foreign key checked only at COMMIT: the group's COMMIT itself fails.
    const orphan = db.transaction().execute(async (trx) => {
      await sql`pragma defer_foreign_keys = on`.execute(trx);
      await trx.insertInto('child').values({ id: 1, parent_id: 404 }).execute();
    });
    const bystander = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 2 }).execute();
    });
    const results = await Promise.allSettled([orphan, bystander]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
    });
    expect(committed()).toEqual([1]);
    // The next group starts clean.
    await db.insertInto('t').values({ id: 3 }).execute();
    expect(committed()).toEqual([1, 3]);
  });

  it('never shows a read outside a transaction what its group has not committed', async () => {
    const { db, committed } = await open();
    let release!: () => void;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    let answered = false;
    const first = db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('t').values({ id: 1 }).execute();
      })
      .then(() => {
        answered = true;
      });
    // The second holds the group open: the first has run, but its group has not committed.
    const second = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 2 }).execute();
      await gate;
    });
    await new Promise((done) => setTimeout(done, 20));
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([]);
    expect(answered).toBe(false);
    expect(committed()).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(await db.selectFrom('t').select('id').orderBy('id').execute()).toEqual([{ id: 1 }, { id: 2 }]);
  });

  describe('with the WAL synced off the event loop', () => {
    type Done = (error: NodeJS.ErrnoException | null) => void;
    /** A sync that passes until the test holds it; then it finishes when the test says. */
    function heldSync() {
      const held: Done[] = [];
      const state = { holding: false, failing: false };
      return {
        held,
        state,
        sync: (_fd: number, done: Done) => {
          if (state.failing) done(Object.assign(new Error('EIO'), { code: 'EIO' }));
          else if (state.holding) held.push(done);
          else setImmediate(() => done(null));
        },
      };
    }
    const turn = () => new Promise((done) => setTimeout(done, 20));

    it('answers a unit, and a read that saw its rows, only once the sync after its COMMIT has finished', async () => {
      const { held, state, sync } = heldSync();
      const { db, committed } = await open({ sync });
      state.holding = true;
      const settled: string[] = [];
      const write = db
        .transaction()
        .execute((trx) => trx.insertInto('t').values({ id: 1 }).execute())
        .then(() => settled.push('write'));
      await turn();
      // COMMITted, so another process sees it; but not yet synced, so nobody here is told.
      expect(committed()).toEqual([1]);
      const read = db
        .selectFrom('t')
        .select('id')
        .execute()
        .then((rows) => settled.push(`read ${rows.length}`));
      await turn();
      expect(settled).toEqual([]);
      expect(held).toHaveLength(1);
      held[0]!(null);
      await Promise.all([write, read]);
      expect(settled).toEqual(['write', 'read 1']);
    });

    it('shares one sync among the COMMITs made while one runs', async () => {
      const { held, state, sync } = heldSync();
      const { db } = await open({ sync });
      state.holding = true;
      const first = db.insertInto('t').values({ id: 1 }).execute();
      await turn();
      const later = [2, 3, 4].map(async (id) => {
        await db.insertInto('t').values({ id }).execute();
      });
      await turn();
      expect(held).toHaveLength(1);
      held[0]!(null);
      await first;
      await turn();
      expect(held).toHaveLength(2);
      held[1]!(null);
      await Promise.all(later);
    });

    it('fails every unit of a group whose sync fails with SQLITE_IOERR_FSYNC, which is a 503', async () => {
      const { state, sync } = heldSync();
      const { db } = await open({ sync });
      state.failing = true;
      const error = await db
        .insertInto('t')
        .values({ id: 1 })
        .execute()
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SQLITE_IOERR_FSYNC' });
      expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it('syncs with fdatasync by default and keeps every unit', async () => {
      const { db, committed } = await open({});
      await Promise.all([1, 2, 3].map((id) => db.insertInto('t').values({ id }).execute()));
      expect(committed()).toEqual([1, 2, 3]);
    });
  });

  it('reads inside a transaction what that transaction and its group wrote', async () => {
    const { db } = await open();
    const ids = await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 7 }).execute();
      return trx.selectFrom('t').select('id').execute();
    });
    expect(ids).toEqual([{ id: 7 }]);
  });

  it('runs on a database in memory, where reads go through the writer', async () => {
    const writer = openSqlite({ file: ':memory:', synchronous: 'FULL' });
    const db = new Kysely<Tables>({ dialect: new GroupCommitSqliteDialect({ writer }) });
    closers.push(() => db.destroy());
    await db.schema
      .createTable('t')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute();
    await Promise.all([1, 2, 3].map((id) => db.insertInto('t').values({ id }).execute()));
    expect(await db.selectFrom('t').select('id').orderBy('id').execute()).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ]);
  });
});
