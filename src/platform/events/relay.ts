import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { isPostgres } from '../db/database.ts';
import { crashPoint } from '../faults.ts';
import { backoffMs, createDrainWorker } from '../worker.ts';
import type { EventBus } from './bus.ts';
import type { EventEnvelope } from './envelope.ts';
import { type EventTables, eventTablesOf } from './tables.ts';

export interface RelayOptions<DB extends EventTables = EventTables> {
  readonly db: Kysely<DB>;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly batchSize?: number;
  /** How often to look for due rows when nothing wakes the relay. */
  readonly pollIntervalMs?: number;
  /** Deliveries before a row is set aside as a dead letter. */
  readonly maxAttempts?: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long sent rows are kept before they are purged. */
  readonly retentionMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /**
   * Looks for rows at the end of this turn of the event loop rather than at the next poll, so the
   * commits of one turn go out in one batch, marked sent in one transaction.
   */
  notify(): void;
  /** Runs until no row is due; for tests and commands. */
  drain(): Promise<void>;
  /** Lets the batch in flight finish, then stops. */
  stop(): Promise<void>;
}

/**
 * Moves committed outbox rows to the bus. A row is marked sent only after the bus accepted it
 * durably; a failed row is retried with exponential backoff, and after `maxAttempts` is kept as a
 * dead letter (see `replayDeadLetters`) while later rows keep flowing.
 */
export function createOutboxRelay<DB extends EventTables>(options: RelayOptions<DB>): OutboxRelay {
  const { bus, log } = options;
  const db = eventTablesOf(options.db);
  const postgres = isPostgres(db);
  const batchSize = options.batchSize ?? 200;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const maxAttempts = options.maxAttempts ?? 10;
  const baseBackoffMs = options.baseBackoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const retentionMs = options.retentionMs ?? 24 * 3600_000;

  let lastPurge = 0;
  // Set when a batch failed while the bus itself was away: rows then wait without spending attempts.
  let busAway = false;

  type Row = { seq: number; envelope: string; attempts: number };

  function dueRows(executor: Kysely<EventTables>) {
    return executor
      .selectFrom('outbox')
      .select(['seq', 'envelope', 'attempts'])
      .where('sent_at', 'is', null)
      .where('dead_at', 'is', null)
      .where('next_attempt_at', '<=', Date.now())
      .orderBy('seq')
      .limit(batchSize);
  }

  async function publishAll(rows: readonly Row[]): Promise<PromiseSettledResult<void>[]> {
    crashPoint('relay.before_publish');
    const results = await Promise.allSettled(
      rows.map((row) => bus.publish(JSON.parse(row.envelope) as EventEnvelope)),
    );
    crashPoint('relay.after_publish_before_mark');
    if (results.some((r) => r.status === 'rejected') && !(await busAnswers())) {
      if (!busAway) log.warn('the event bus is unavailable; events wait in the outbox until it is back');
      busAway = true;
    }
    return results;
  }

  /** Whether the bus can carry events at all, as opposed to refusing particular ones. */
  function busAnswers(): Promise<boolean> {
    return bus.check().then(
      () => true,
      () => false,
    );
  }

  /** Marks the published rows sent, and schedules the others' next attempt or sets them aside. */
  async function mark(
    trx: Kysely<EventTables>,
    rows: readonly Row[],
    results: PromiseSettledResult<void>[],
  ): Promise<void> {
    const sent: number[] = [];
    const done = Date.now();
    for (const [i, result] of results.entries()) {
      const row = rows[i]!;
      if (result.status === 'fulfilled') {
        sent.push(row.seq);
        continue;
      }
      // A broker outage is not this event's failure: it stays due, its attempts unspent.
      if (busAway) continue;
      const attempts = row.attempts + 1;
      const dead = attempts >= maxAttempts;
      const backoff = backoffMs(attempts, { baseMs: baseBackoffMs, maxMs: maxBackoffMs, jitter: true });
      const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
      log[dead ? 'error' : 'warn'](
        { seq: row.seq, attempts, err: result.reason },
        dead ? 'event dead-lettered after its last delivery attempt' : 'event delivery failed; will retry',
      );
      await trx
        .updateTable('outbox')
        .set({
          attempts,
          next_attempt_at: done + backoff,
          last_error: reason.slice(0, 1000),
          dead_at: dead ? done : null,
        })
        .where('seq', '=', row.seq)
        .execute();
    }
    if (sent.length > 0)
      await trx.updateTable('outbox').set({ sent_at: done }).where('seq', 'in', sent).execute();
  }

  /**
   * On Postgres the batch is claimed with FOR UPDATE SKIP LOCKED and published and marked inside that
   * transaction, so relays of other processes on the same database skip these rows rather than publish
   * them again; a crash before the commit releases them to be delivered again (at least once).
   * SQLite has one writer per database, so it reads, publishes, then marks in a short write transaction
   * rather than hold the write lock while the bus answers.
   */
  async function relayBatch(): Promise<number> {
    if (busAway) {
      if (!(await busAnswers())) return 0;
      busAway = false;
      log.info('the event bus is back; relaying the outbox');
    }
    let count: number;
    if (postgres) {
      count = await db.transaction().execute(async (trx) => {
        const rows = await dueRows(trx).forUpdate().skipLocked().execute();
        if (rows.length > 0) await mark(trx, rows, await publishAll(rows));
        return rows.length;
      });
    } else {
      const rows = await dueRows(db).execute();
      if (rows.length > 0) {
        const results = await publishAll(rows);
        await db.transaction().execute((trx) => mark(trx, rows, results));
      }
      count = rows.length;
    }
    // Nothing more to do until the bus is back: the poll looks again.
    if (count === 0 || busAway) return 0;
    const now = Date.now();
    if (now - lastPurge > 60_000) {
      lastPurge = now;
      await db
        .deleteFrom('outbox')
        .where('sent_at', '<', now - retentionMs)
        .execute();
    }
    return count;
  }

  const worker = createDrainWorker({
    batch: relayBatch,
    batchSize,
    intervalMs: pollIntervalMs,
    log,
    failure: 'outbox relay failed; will retry',
  });

  return {
    start: worker.start,
    notify: worker.notify,
    async drain() {
      // Does now what a pending wake-up would have done.
      await worker.settle();
      while ((await relayBatch()) > 0) {
        // keep going until nothing is due
      }
    },
    stop: worker.stop,
  };
}

/** Puts dead letters back in line, for the `replay-dead-letters` command. Returns how many. */
export async function replayDeadLetters<DB extends EventTables>(db: Kysely<DB>): Promise<number> {
  const result = await eventTablesOf(db)
    .updateTable('outbox')
    .set({ dead_at: null, attempts: 0, next_attempt_at: Date.now(), last_error: null })
    .where('dead_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
