import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModuleDatabase } from '../db/database.ts';
import type { EventBus } from './bus.ts';
import { createSubscription } from './consumer.ts';
import { createEnvelope } from './envelope.ts';
import { createMemoryBus } from './memory-bus.ts';
import { createEventPipeline } from './pipeline.ts';
import { replayDeadLetters } from './relay.ts';
import { type EffectTables, openEffectsDatabase } from './test-support.ts';

type TestEvents = { 'test.happened': { n: number } };

const log = pino({ level: 'silent' });

describe('outbox, relay, memory bus and inbox', () => {
  let publisher: ModuleDatabase<EffectTables>;
  let consumer: ModuleDatabase<EffectTables>;
  let bus: EventBus;

  beforeEach(async () => {
    publisher = await openEffectsDatabase();
    consumer = await openEffectsDatabase();
    bus = createMemoryBus();
  });
  afterEach(async () => {
    await bus.close();
    await publisher.close();
    await consumer.close();
  });

  function pipeline() {
    return createEventPipeline<EffectTables, TestEvents>({ db: publisher.db, bus, log, source: 'test' });
  }

  async function subscribe(options: { failTimes?: number; poison?: number } = {}) {
    const consumerPipeline = createEventPipeline<EffectTables, TestEvents>({
      db: consumer.db,
      bus,
      log,
      source: 'consumer',
    });
    let failures = options.failTimes ?? 0;
    const calls: number[] = [];
    const subscription = createSubscription<EffectTables, TestEvents, TestEvents>(
      'consumer',
      consumerPipeline.outbox,
      {
        'test.happened': async (event, trx) => {
          calls.push(event.data.n);
          await trx.insertInto('effects').values({ event_id: event.id, n: event.data.n }).execute();
          if (event.data.n === options.poison) throw new Error('poison');
          if (failures > 0) {
            failures--;
            throw new Error('transient');
          }
        },
      },
    );
    await bus.subscribe(subscription.consumer, subscription.types, (e) => subscription.handle(e));
    return { calls, subscription };
  }

  const effects = () => consumer.db.selectFrom('effects').selectAll().orderBy('n').execute();
  const pending = () =>
    publisher.db
      .selectFrom('outbox')
      .selectAll()
      .where('sent_at', 'is', null)
      .where('dead_at', 'is', null)
      .execute();

  it('publishes nothing when the business transaction rolls back', async () => {
    const { outbox, relay } = pipeline();
    const { calls } = await subscribe();
    await expect(
      outbox.transaction(async (_trx, emit) => {
        emit('test.happened', { n: 1 });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await relay.drain();
    expect(await publisher.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('delivers a committed event and marks it sent only after the consumer committed', async () => {
    const { outbox, relay } = pipeline();
    await subscribe();
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 1 }));
    expect(await pending()).toHaveLength(1);
    await relay.drain();
    expect(await pending()).toHaveLength(0);
    expect(await effects()).toMatchObject([{ n: 1 }]);
  });

  it('keeps a failed delivery, retries it, and applies it once', async () => {
    const { outbox, relay } = pipeline();
    const { calls } = await subscribe({ failTimes: 1 });
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 7 }));
    await relay.drain();
    expect(await pending()).toHaveLength(1);
    await publisher.db.updateTable('outbox').set({ next_attempt_at: 0 }).execute();
    await relay.drain();
    expect(await pending()).toHaveLength(0);
    expect(calls).toEqual([7, 7]);
    expect(await effects()).toMatchObject([{ n: 7 }]);
  });

  it('applies a redelivered event once (the relay died after publishing, before marking sent)', async () => {
    const { outbox, relay } = pipeline();
    const { calls } = await subscribe();
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 3 }));
    const row = await publisher.db.selectFrom('outbox').select('envelope').executeTakeFirstOrThrow();
    await bus.publish(JSON.parse(row.envelope));
    await relay.drain();
    expect(calls).toEqual([3]);
    expect(await effects()).toHaveLength(1);
  });

  it('dead-letters a poison event after its attempts while later events keep flowing, and replays it', async () => {
    const { outbox } = pipeline();
    const { createOutboxRelay } = await import('./relay.ts');
    const relay = createOutboxRelay({
      db: publisher.db,
      bus,
      log,
      maxAttempts: 3,
      baseBackoffMs: 0,
      maxBackoffMs: 0,
    });
    await subscribe({ poison: 1 });
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 1 }));
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 2 }));
    for (let i = 0; i < 3; i++) await relay.drain();
    const dead = await publisher.db
      .selectFrom('outbox')
      .selectAll()
      .where('dead_at', 'is not', null)
      .execute();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.attempts).toBe(3);
    expect((await effects()).map((e) => e.n)).toEqual([2]);
    expect(await replayDeadLetters(publisher.db)).toBe(1);
    expect(await pending()).toHaveLength(1);
  });

  it('spends no attempts while the bus itself is away: events wait, then go out once it is back', async () => {
    const { outbox } = pipeline();
    const { createOutboxRelay } = await import('./relay.ts');
    let away = true;
    const unavailable = () => new Error('The event bus is disconnected from the broker');
    const flakyBus: EventBus = {
      ...bus,
      publish: (event) => (away ? Promise.reject(unavailable()) : bus.publish(event)),
      check: () => (away ? Promise.reject(unavailable()) : bus.check()),
    };
    const relay = createOutboxRelay({
      db: publisher.db,
      bus: flakyBus,
      log,
      maxAttempts: 2,
      baseBackoffMs: 0,
      maxBackoffMs: 0,
    });
    await subscribe();
    await outbox.transaction(async (_trx, emit) => emit('test.happened', { n: 1 }));
    for (let i = 0; i < 5; i++) await relay.drain();
    expect(await pending()).toMatchObject([{ attempts: 0, dead_at: null }]);
    away = false;
    await relay.drain();
    expect(await pending()).toEqual([]);
    expect((await effects()).map((e) => e.n)).toEqual([1]);
  });

  it('relays the commits of one turn of the event loop in one batch, marked sent together', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const published: number[] = [];
    const gatedBus: EventBus = {
      ...bus,
      async publish(event) {
        published.push((event.data as { n: number }).n);
        await gate;
      },
    };
    const { outbox, relay } = createEventPipeline<EffectTables, TestEvents>({
      db: publisher.db,
      bus: gatedBus,
      log,
      source: 'test',
    });
    relay.start();
    for (const n of [1, 2, 3]) await outbox.transaction(async (_trx, emit) => emit('test.happened', { n }));
    // All three are in flight together, while the bus has not answered the first.
    await expect.poll(() => published).toEqual([1, 2, 3]);
    open();
    await expect.poll(pending).toEqual([]);
    await relay.stop();
    const marked = await publisher.db.selectFrom('outbox').select('sent_at').execute();
    expect(new Set(marked.map((r) => r.sent_at)).size).toBe(1);
    expect(published).toEqual([1, 2, 3]);
  });

  it('refuses a second consumer with the same name, and delivery after close', async () => {
    await subscribe();
    await expect(bus.subscribe('consumer', ['x'], async () => {})).rejects.toThrow();
    await bus.close();
    await expect(bus.publish(createEnvelope('test', 'test.happened', { n: 1 }))).rejects.toThrow();
  });
});
