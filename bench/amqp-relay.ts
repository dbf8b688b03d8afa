import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { migrateToLatest, openDatabase } from '../src/platform/db/database.ts';
import { createAmqpBus } from '../src/platform/events/amqp-bus.ts';
import { amqpNames, assertConsumerQueue } from '../src/platform/events/amqp-topology.ts';
import { createOutbox } from '../src/platform/events/outbox.ts';
import { createOutboxRelay } from '../src/platform/events/relay.ts';
import { type EventTables, eventTablesMigration } from '../src/platform/events/tables.ts';

/**
 * Outbox relay throughput over RabbitMQ, with publisher confirms:
 *   node --experimental-strip-types bench/amqp-relay.ts
 * commits BENCH_EVENTS events (default 50,000) to a SQLite outbox on disk, then times the real relay
 * draining them onto the AMQP bus, BENCH_BATCH rows (and confirms in flight) at a time. Every event
 * routes to a consumer's quorum queue, as in production, so each confirm waits for its write.
 * BENCH_ROUNDS rounds (default 3), each on a fresh outbox; prints each and the median. The broker and
 * this process share the machine's cores: run it on an otherwise idle machine.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const namespace = `splitshop-bench-${randomUUID().slice(0, 8)}`;
const names = amqpNames(namespace);
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** Commits EVENTS events to a fresh outbox on disk, then times the relay draining it. */
async function round(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'splitshop-bench-'));
  const database = openDatabase<EventTables>({ url: `sqlite:${join(dir, 'outbox.db')}` });
  const bus = await createAmqpBus({ url: URL, log, namespace });
  try {
    await migrateToLatest(database.db as Kysely<unknown>, 'bench', {
      '0000_event_tables': eventTablesMigration,
    });
    const outbox = createOutbox<EventTables, BenchEvents>(database.db, 'bench');
    for (let n = 0; n < EVENTS; n += 1000) {
      await outbox.transaction(async (_trx, emit) => {
        for (let i = n; i < Math.min(EVENTS, n + 1000); i++) {
          emit('bench.happened', { n: i, note: 'an order was placed for three items' });
        }
      });
    }
    const relay = createOutboxRelay({ db: database.db, bus, log, batchSize: BATCH });
    const started = performance.now();
    await relay.drain();
    const seconds = (performance.now() - started) / 1000;
    const unsent = await database.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sent_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(unsent.n) > 0) throw new Error(`${unsent.n} events left unsent`);
    return EVENTS / seconds;
  } finally {
    await bus.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type BenchEvents = { 'bench.happened': { n: number; note: string } };

const admin = await connect(URL);
const channel = await admin.createChannel();
const queue = await assertConsumerQueue(channel, names, 'bench-consumer', ['bench.happened'], 5);
try {
  const rates: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const rate = await round();
    rates.push(rate);
    await channel.purgeQueue(queue);
    process.stdout.write(`round ${i}: ${EVENTS} events, batch ${BATCH}: ${Math.round(rate)} events/s\n`);
  }
  rates.sort((a, b) => a - b);
  process.stdout.write(
    `median ${Math.round(rates[Math.floor(rates.length / 2)]!)} events/s, best ${Math.round(rates.at(-1)!)} events/s\n`,
  );
} finally {
  await channel.deleteQueue(queue);
  await channel.deleteQueue(names.deadQueue('bench-consumer'));
  await channel.deleteExchange(names.exchange('bench'));
  await channel.deleteExchange(names.deadLetterExchange);
  await admin.close();
}
