import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommitSqliteDialect } from './group-commit.ts';
import { openSqlite } from './sqlite.ts';

describe('the SQLite dialect', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function open(synchronous: 'FULL' | 'NORMAL' = 'FULL') {
    const dir = mkdtempSync(join(tmpdir(), 'splitshop-sqlite-'));
    dirs.push(dir);
    const raw = openSqlite({ file: join(dir, 'test.db'), synchronous });
    const prepare = vi.spyOn(raw, 'prepare');
    const db = new Kysely<{ t: { id: number; n: number } }>({
      dialect: new GroupCommitSqliteDialect({ writer: raw }),
    });
    return { raw, prepare, db };
  }

  it('keeps data: WAL, a busy timeout, foreign keys and the requested synchronous level', () => {
    const { raw } = open('FULL');
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(raw.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    expect(raw.pragma('synchronous', { simple: true })).toBe(2);
    raw.close();
  });

  it('prepares a query once and reuses the statement', async () => {
    const { db, prepare } = open();
    await db.schema
      .createTable('t')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'integer')
      .execute();
    await db.insertInto('t').values({ id: 1, n: 1 }).execute();
    prepare.mockClear();
    for (let i = 0; i < 10; i++) await db.selectFrom('t').selectAll().where('id', '=', 1).execute();
    expect(prepare).toHaveBeenCalledTimes(1);
    await db.destroy();
  });

  it('begins write transactions immediately, taking the write lock up front', async () => {
    const { db, prepare } = open();
    prepare.mockClear();
    await db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
    });
    expect(prepare.mock.calls.map((call) => call[0])).toEqual([
      'begin immediate',
      'savepoint splitshop_unit',
      'select 1',
      'release splitshop_unit',
      'commit',
    ]);
    await db.destroy();
  });
});
