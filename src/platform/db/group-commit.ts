/**
 * Group commit for SQLite, written here because neither Kysely nor better-sqlite3 offers one: with one
 * COMMIT per transaction, each order's five commits each synced the WAL while the event loop stood
 * still (issue 14: ~6 ms of CPU and ~5.4 fsyncs per order, 257 orders/s).
 *
 * Write transactions ("units") still run one at a time on the one write connection, each inside a
 * savepoint of a transaction that stays open while more units are waiting. When none is waiting, the
 * group commits once, and only then does each unit's commit resolve: no answer is sent and no event
 * leaves the outbox before its unit is on disk. A unit that throws rolls back to its savepoint alone;
 * a COMMIT that fails fails every unit of the group and leaves the database as it was before it.
 * Reads outside a transaction go to a second connection, which sees only committed groups (WAL) and
 * never queues behind a writer.
 *
 * With `syncWal`, the writer runs `synchronous=NORMAL` and the driver syncs the WAL after each COMMIT
 * on libuv's thread pool: what SQLite's `FULL` adds in WAL mode ("an additional sync of the WAL file
 * after each transaction commit", sqlite.org/pragma.html), without the event loop standing still for
 * it (0.5 ms per COMMIT here). Units resolve, and reads outside a transaction return, only once the
 * sync that covers what they wrote or saw has finished: nothing not yet durable leaves the process.
 */
import { closeSync, fdatasync, fsync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers';
import type Database from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
} from 'kysely';
import { crashPoint } from '../faults.ts';
import { withStatementCache } from './sqlite.ts';

/** Counts of what the write connection did, for benchmarks and tests. */
export interface GroupCommitStats {
  /** Units (transactions, and writes outside one) that committed. */
  units: number;
  /** COMMITs: every unit that committed was in one of them. */
  commits: number;
  /** Units rolled back alone, inside a group. */
  rollbacks: number;
}

export interface GroupCommitOptions {
  readonly writer: Database.Database;
  /** A second connection to the same file, for reads outside transactions; none for `:memory:`. */
  readonly reader?: Database.Database;
  /**
   * When a group commits: at the end of the event loop's turn (`turn`, the default: every unit of the
   * turn joins), or as soon as no unit waits for the connection (`idle`: for a database in memory,
   * where a COMMIT syncs nothing, so waiting would only delay).
   */
  readonly flush?: 'turn' | 'idle';
  /**
   * The writer's WAL file, when the writer runs `synchronous=NORMAL` and commits must still be durable
   * as with `FULL`: the driver syncs it after each COMMIT, off the event loop.
   */
  readonly syncWal?: string;
  /** How to sync a file descriptor; `fdatasync` from `node:fs`, as SQLite syncs its WAL on Linux. */
  readonly sync?: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;
}

/** A FIFO lock on the write connection; a group's commit queues behind the units already waiting. */
class WriteLock {
  #held = false;
  readonly #waiting: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((done) => this.#waiting.push(done));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

const UNIT = 'splitshop_unit';

/** Runs a compiled query on one better-sqlite3 connection, as Kysely's own SQLite driver does. */
function run(db: ReturnType<typeof withStatementCache>, query: CompiledQuery): QueryResult<unknown> {
  const stmt = db.prepare(query.sql);
  if (stmt.reader) return { rows: stmt.all(query.parameters) as unknown[] };
  const { changes, lastInsertRowid } = stmt.run(query.parameters);
  return {
    insertId: lastInsertRowid == null ? undefined : BigInt(lastInsertRowid),
    numAffectedRows: changes == null ? undefined : BigInt(changes),
    rows: [],
  };
}

class GroupCommitDriver implements Driver {
  readonly stats: GroupCommitStats = { units: 0, commits: 0, rollbacks: 0 };
  readonly #raw: Database.Database;
  readonly #writer: ReturnType<typeof withStatementCache>;
  readonly #reader: ReturnType<typeof withStatementCache> | undefined;
  readonly #lock = new WriteLock();
  /** The group's transaction is open: units have run in it since the last COMMIT. */
  #open = false;
  #group: Waiter[] = [];
  /** Units rolled back in the open group, told once the group is settled. */
  #failed: Array<() => void> = [];
  readonly #wal: WalSync | undefined;
  #flushQueued = false;
  readonly #flushAt: 'turn' | 'idle';

  constructor(options: GroupCommitOptions) {
    this.#flushAt = options.flush ?? 'turn';
    this.#raw = options.writer;
    this.#writer = withStatementCache(options.writer);
    this.#reader = options.reader && withStatementCache(options.reader);
    this.#wal = options.syncWal === undefined ? undefined : new WalSync(options.syncWal, options.sync);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new UnitConnection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.enter();
    (connection as UnitConnection).inUnit = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    (connection as UnitConnection).inUnit = false;
    await this.leave(true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // Not in a unit: its commit already ended it (a failed RELEASE undoes the unit itself).
    if (!(connection as UnitConnection).inUnit) return;
    (connection as UnitConnection).inUnit = false;
    await this.leave(false);
  }

  async savepoint(_connection: DatabaseConnection, name: string): Promise<void> {
    this.#writer.prepare(`savepoint ${quoted(name)}`).run([]);
  }

  async rollbackToSavepoint(_connection: DatabaseConnection, name: string): Promise<void> {
    this.#writer.prepare(`rollback to ${quoted(name)}`).run([]);
  }

  async releaseSavepoint(_connection: DatabaseConnection, name: string): Promise<void> {
    this.#writer.prepare(`release ${quoted(name)}`).run([]);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    // A unit Kysely gave up on without commit or rollback (a failed begin releases in `enter`).
    if ((connection as UnitConnection).inUnit) await this.rollbackTransaction(connection);
  }

  async destroy(): Promise<void> {
    // Whatever group is still open commits first, as it would have a moment later.
    await this.#lock.acquire();
    try {
      this.#flush();
      await this.#wal?.durable();
    } finally {
      this.#wal?.close();
      this.#raw.close();
      this.#reader?.close();
    }
  }

  /** Takes the write connection and opens a unit: the group's transaction first, if none is open. */
  async enter(): Promise<void> {
    await this.#lock.acquire();
    try {
      // An error such as SQLITE_FULL can make SQLite roll the whole transaction back by itself.
      if (this.#open && !this.#raw.inTransaction) this.#abandon(new Error('SQLite rolled the group back'));
      if (!this.#open) {
        // Immediate: the write lock up front, so a writer in another process gets SQLITE_BUSY now.
        this.#writer.prepare('begin immediate').run([]);
        this.#open = true;
      }
      this.#writer.prepare(`savepoint ${UNIT}`).run([]);
    } catch (error) {
      this.#lock.release();
      throw error;
    }
  }

  /** Ends a unit and hands the connection on; a committed unit resolves when its group is durable. */
  leave(commit: boolean): Promise<void> {
    let durable: Promise<void> | undefined;
    try {
      if (commit) {
        try {
          this.#writer.prepare(`release ${UNIT}`).run([]);
        } catch (error) {
          this.#undo();
          throw error;
        }
        durable = new Promise<void>((resolve, reject) => this.#group.push({ resolve, reject }));
      } else {
        this.#undo();
        // The unit may have failed on a row of the open group, say a duplicate key: its caller hears of
        // it once that row is committed, so what it reads next (from the reader) shows the row.
        if (this.#open) durable = new Promise<void>((settle) => this.#failed.push(settle));
      }
    } finally {
      this.#lock.release();
      this.#queueFlush();
    }
    return durable ?? Promise.resolve();
  }

  /** Rolls the current unit back to its savepoint; the units before it in the group stand. */
  #undo(): void {
    this.stats.rollbacks += 1;
    // Without a transaction SQLite has rolled the whole group back; the next step fails its units.
    if (!this.#raw.inTransaction) return;
    this.#writer.prepare(`rollback to ${UNIT}`).run([]);
    this.#writer.prepare(`release ${UNIT}`).run([]);
  }

  /** Fails every unit of the open group: none of them is on disk. */
  #abandon(error: unknown): void {
    const group = this.#group;
    this.#group = [];
    this.#open = false;
    for (const waiter of group) waiter.reject(error);
    this.#settleFailed();
  }

  #settleFailed(): void {
    const failed = this.#failed;
    this.#failed = [];
    for (const settle of failed) settle();
  }

  /** A statement outside a transaction: a read from the reader, else a unit of its own. */
  async execute(query: CompiledQuery): Promise<QueryResult<unknown>> {
    if (this.#reader !== undefined && SelectQueryNode.is(query.query)) {
      const result = run(this.#reader, query);
      // It may have seen a COMMIT whose sync is still running.
      if (this.#wal?.pending) await this.#wal.durable();
      return result;
    }
    await this.enter();
    let result: QueryResult<unknown>;
    try {
      result = run(this.#writer, query);
    } catch (error) {
      await this.leave(false);
      throw error;
    }
    await this.leave(true);
    return result;
  }

  /** A query inside the unit that holds the write connection. */
  executeInUnit(query: CompiledQuery): QueryResult<unknown> {
    return run(this.#writer, query);
  }

  /** Reads a select row by row, from the reader when there is one. */
  async *stream(query: CompiledQuery, inUnit: boolean): AsyncIterable<unknown> {
    const fromReader = !inUnit && this.#reader !== undefined;
    const db = fromReader ? this.#reader! : this.#writer;
    let first = true;
    for (const row of db.prepare(query.sql).iterate(query.parameters) as Iterable<unknown>) {
      // The read's snapshot starts with its first row: what it may see is durable before it is shown.
      if (first && fromReader && this.#wal?.pending) await this.#wal.durable();
      first = false;
      yield row;
    }
  }

  /**
   * Queues the group's COMMIT for the end of this turn of the event loop (`setImmediate`), behind the
   * units already waiting for the connection: every unit that requests and events reached this turn
   * joins the group, so one COMMIT (0.5 ms with its fsync here) serves them all. The `node:timers`
   * one: a test's fake timers replace the global, and a database must commit whatever the clock says.
   */
  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    const flush = async () => {
      // One sync at a time: the units that come while it runs join the group it is waiting to commit.
      if (this.#wal?.pending) await this.#wal.durable().catch(() => {});
      await this.#lock.acquire();
      this.#flushQueued = false;
      try {
        this.#flush();
      } finally {
        this.#lock.release();
      }
    };
    if (this.#flushAt === 'turn') setImmediate(flush);
    else void flush();
  }

  /** Commits the open group and settles its units; called holding the lock. */
  #flush(): void {
    if (!this.#open) return;
    if (!this.#raw.inTransaction) {
      this.#abandon(new Error('SQLite rolled the group back'));
      return;
    }
    try {
      crashPoint('sqlite.before_group_commit');
      this.#writer.prepare('commit').run([]);
    } catch (error) {
      // A COMMIT that fails may leave the transaction open: it is rolled back whole, and no unit stands.
      if (this.#raw.inTransaction) this.#raw.prepare('rollback').run();
      this.#abandon(error);
      return;
    }
    const group = this.#group;
    const failed = this.#failed;
    this.#group = [];
    this.#failed = [];
    this.#open = false;
    this.stats.commits += 1;
    this.stats.units += group.length;
    crashPoint('sqlite.after_group_commit');
    const settle = (error: unknown) => {
      for (const waiter of group) error === undefined ? waiter.resolve() : waiter.reject(error);
      for (const done of failed) done();
    };
    if (this.#wal === undefined) settle(undefined);
    else this.#wal.committed().then(() => settle(undefined), settle);
  }
}

/**
 * Syncs a WAL file after COMMITs, one sync at a time: a sync started after a COMMIT covers it, so
 * COMMITs made while one runs share the next. The file is opened after the first COMMIT, when SQLite
 * has created it; it keeps that file while the writer is open. The directory is synced once, as SQLite
 * does for a new WAL.
 */
class WalSync {
  readonly #path: string;
  readonly #sync: NonNullable<GroupCommitOptions['sync']>;
  #fd: number | undefined;
  #dirSynced = false;
  /** COMMITs asked to be made durable, and how many of them are. */
  #asked = 0;
  #done = 0;
  #running = false;
  #waiters: Array<{ upTo: number; resolve(): void; reject(error: unknown): void }> = [];

  constructor(path: string, sync: GroupCommitOptions['sync'] = fdatasync) {
    this.#path = path;
    this.#sync = sync;
  }

  /** A COMMIT has been made whose sync has not finished. */
  get pending(): boolean {
    return this.#done < this.#asked;
  }

  /** After a COMMIT: resolves once it is on disk. */
  committed(): Promise<void> {
    this.#asked += 1;
    const promise = this.durable();
    this.#next();
    return promise;
  }

  /** Resolves once every COMMIT made so far is on disk. */
  durable(): Promise<void> {
    const upTo = this.#asked;
    if (this.#done >= upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  #next(): void {
    if (this.#running || this.#done >= this.#asked) return;
    this.#running = true;
    const upTo = this.#asked;
    const finish = (error: NodeJS.ErrnoException | null) => {
      this.#running = false;
      this.#done = upTo;
      const ready = this.#waiters.filter((w) => w.upTo <= upTo);
      this.#waiters = this.#waiters.filter((w) => w.upTo > upTo);
      // Like a failed sync inside COMMIT: SQLITE_IOERR_FSYNC, which the platform answers with 503.
      const failure =
        error &&
        Object.assign(new Error(`Could not sync ${this.#path}`, { cause: error }), {
          code: 'SQLITE_IOERR_FSYNC',
        });
      for (const waiter of ready) failure ? waiter.reject(failure) : waiter.resolve();
      this.#next();
    };
    try {
      this.#fd ??= openSync(this.#path, 'r');
    } catch (error) {
      finish(error as NodeJS.ErrnoException);
      return;
    }
    const fd = this.#fd;
    if (this.#dirSynced) {
      this.#sync(fd, finish);
      return;
    }
    const dir = openSync(dirname(this.#path), 'r');
    fsync(dir, (error) => {
      closeSync(dir);
      if (error) return finish(error);
      this.#dirSynced = true;
      this.#sync(fd, finish);
    });
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

class UnitConnection implements DatabaseConnection {
  inUnit = false;
  readonly #driver: GroupCommitDriver;
  constructor(driver: GroupCommitDriver) {
    this.#driver = driver;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = this.inUnit ? this.#driver.executeInUnit(query) : await this.#driver.execute(query);
    return result as QueryResult<R>;
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(query.query)) throw new Error('Only selects can be streamed');
    for await (const row of this.#driver.stream(query, this.inUnit)) yield { rows: [row as R] };
  }
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** More than one "connection" at once: the driver serializes writers itself and reads beside them. */
class GroupCommitAdapter extends SqliteAdapter {
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

/** Kysely's SQLite dialect with group commit, immediate transactions, reused statements and a reader. */
export class GroupCommitSqliteDialect extends SqliteDialect {
  readonly #driver: GroupCommitDriver;
  constructor(options: GroupCommitOptions) {
    super({ database: options.writer as never });
    this.#driver = new GroupCommitDriver(options);
  }
  get stats(): Readonly<GroupCommitStats> {
    return this.#driver.stats;
  }
  override createDriver(): Driver {
    return this.#driver;
  }
  override createAdapter(): SqliteAdapter {
    return new GroupCommitAdapter();
  }
}
