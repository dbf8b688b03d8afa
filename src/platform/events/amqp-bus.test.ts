import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { type ChannelModel, connect } from 'amqplib';
import pino from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import { createAmqpBus } from './amqp-bus.ts';
import { replayDeadLetters } from './amqp-dead-letters.ts';
import { amqpNames, assertConsumerQueue } from './amqp-topology.ts';
import type { EventBus } from './bus.ts';
import { createSubscription } from './consumer.ts';
import { createEnvelope } from './envelope.ts';
import { createMemoryBus } from './memory-bus.ts';
import { createEventPipeline } from './pipeline.ts';
import { createOutboxRelay } from './relay.ts';
import { type EffectTables, openEffectsDatabase } from './test-support.ts';

const URL = 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
/** Every exchange and queue of this run starts with it; afterAll deletes them. */
const RUN = `splitshop-test-${randomUUID().slice(0, 8)}`;

type TestEvents = { 'shop.happened': { n: number } };

async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 60_000 });
  return stdout;
}

describe.skipIf(!(await needs('rabbitmq')))('AMQP event bus', () => {
  let adminConnection: ChannelModel | undefined;
  let testNumber = 0;
  let namespace: string;
  const cleanups: Array<() => Promise<unknown>> = [];

  /** The test's own connection, for what the bus does not do; opened again after a broker restart. */
  async function admin(): Promise<ChannelModel> {
    if (!adminConnection) {
      const opened = await connect(URL);
      opened.on('error', () => {});
      opened.on('close', () => {
        if (adminConnection === opened) adminConnection = undefined;
      });
      adminConnection = opened;
    }
    return adminConnection;
  }

  afterAll(async () => {
    const channel = await (await admin()).createChannel();
    const queues = (await rabbitmqctl('list_queues', 'name', '-q', '--no-table-headers')).split('\n');
    const exchanges = (await rabbitmqctl('list_exchanges', 'name', '-q', '--no-table-headers')).split('\n');
    for (const queue of queues.filter((q) => q.startsWith(RUN))) await channel.deleteQueue(queue.trim());
    for (const exchange of exchanges.filter((e) => e.startsWith(RUN)))
      await channel.deleteExchange(exchange.trim());
    await adminConnection?.close();
  });
  // Each test gets its own namespace, so no test sees another's queues.
  beforeEach(() => {
    namespace = `${RUN}-${++testNumber}`;
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function bus(options: Partial<Parameters<typeof createAmqpBus>[0]> = {}): Promise<EventBus> {
    const created = await createAmqpBus({
      url: URL,
      log,
      namespace,
      redeliveryDelayMs: 5,
      reconnect: { initialMs: 50, maxMs: 500 },
      ...options,
    });
    cleanups.push(() => created.close());
    return created;
  }

  async function database() {
    const opened = await openEffectsDatabase();
    cleanups.push(() => opened.close());
    return opened;
  }

  /**
   * A consumer module: its database and a subscription that applies `shop.happened` through the inbox.
   * `fail` makes the handler throw for some events (after writing, so the write is rolled back).
   */
  async function consumerModule(options: { fail?: (n: number) => boolean } = {}) {
    const consumerDb = await database();
    const { outbox } = createEventPipeline<EffectTables, TestEvents>({
      db: consumerDb.db,
      bus: createMemoryBus(),
      log,
      source: 'consumer',
    });
    const calls: number[] = [];
    const subscription = createSubscription<EffectTables, TestEvents, TestEvents>('consumer', outbox, {
      'shop.happened': async (event, trx) => {
        calls.push(event.data.n);
        await trx.insertInto('effects').values({ event_id: event.id, n: event.data.n }).execute();
        if (options.fail?.(event.data.n)) throw new Error('poison');
      },
    });
    const effects = async () =>
      (await consumerDb.db.selectFrom('effects').select('n').orderBy('n').execute()).map((e) => e.n);
    const inbox = async () => (await consumerDb.db.selectFrom('inbox').select('event_id').execute()).length;
    const subscribe = (on: EventBus) =>
      on.subscribe(subscription.consumer, subscription.types, (e) => subscription.handle(e));
    return { db: consumerDb, subscription, calls, effects, inbox, subscribe };
  }

  async function publisherModule(publisherBus: EventBus) {
    const publisherDb = await database();
    const pipeline = createEventPipeline<EffectTables, TestEvents>({
      db: publisherDb.db,
      bus: publisherBus,
      log,
      source: 'shop',
    });
    const commit = async (from: number, to: number) => {
      for (let n = from; n <= to; n++) {
        await pipeline.outbox.transaction(async (_trx, emit) => emit('shop.happened', { n }));
      }
    };
    const unsent = async () =>
      (await publisherDb.db.selectFrom('outbox').select('seq').where('sent_at', 'is', null).execute()).length;
    return { db: publisherDb, ...pipeline, commit, unsent };
  }

  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  /** Closes a bus's connection from the broker's side, as if its process had died. */
  async function closeConnection(connectionName: string): Promise<void> {
    const connections = await rabbitmqctl(
      'list_connections',
      'pid',
      'client_properties',
      '-q',
      '--no-table-headers',
    );
    const line = connections.split('\n').find((l) => l.includes(`{"connection_name","${connectionName}"}`));
    if (!line) throw new Error(`No connection named ${connectionName}`);
    await rabbitmqctl('close_connection', line.split('\t')[0]!, 'test: the consumer died');
  }

  async function queueDepth(queue: string): Promise<number> {
    const channel = await (await admin()).createChannel();
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close();
    }
  }

  it('resolves publish on the broker confirm, with the event and its context on the message', async () => {
    const names = amqpNames(namespace);
    const channel = await (await admin()).createChannel();
    const queue = await assertConsumerQueue(channel, names, 'watcher', ['shop.happened'], 5);
    const publisher = await bus();
    const event = {
      ...createEnvelope('shop', 'shop.happened', { n: 1 }),
      request_id: 'r1',
      traceparent: 'tp',
    };

    await publisher.publish(event);

    const message = await channel.get(queue, { noAck: true });
    expect(message).not.toBe(false);
    if (!message) return;
    expect(JSON.parse(message.content.toString())).toEqual(event);
    expect(message.fields).toMatchObject({ exchange: names.exchange('shop'), routingKey: 'shop.happened' });
    expect(message.properties).toMatchObject({
      messageId: event.id,
      type: 'shop.happened',
      contentType: 'application/json',
      deliveryMode: 2,
      headers: { traceparent: 'tp', request_id: 'r1' },
    });
    expect(message.properties.timestamp).toBeGreaterThan(0);

    // A queue that refuses every message makes the broker nack: publish must report it.
    await channel.assertQueue(`${namespace}.full`, {
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    });
    await channel.bindQueue(`${namespace}.full`, names.exchange('shop'), 'shop.happened');
    await expect(publisher.publish(createEnvelope('shop', 'shop.happened', { n: 2 }))).rejects.toThrow(
      /nack/,
    );
    await channel.close();
  });

  it('carries committed events from the real outbox relay to an inbox subscription, each applied once', async () => {
    const consumer = await consumerModule();
    await consumer.subscribe(await bus({ prefetch: 8 }));
    const publisher = await publisherModule(await bus());

    await publisher.commit(1, 300);
    await publisher.relay.drain();

    expect(await publisher.unsent()).toBe(0);
    await waitFor('every effect', async () => (await consumer.effects()).length >= 300);
    expect(await consumer.effects()).toEqual(range(1, 300));
    expect(consumer.calls).toHaveLength(300);
  });

  it('redelivers an event whose consumer died before acknowledging it, to another instance, applied once', async () => {
    const consumer = await consumerModule();
    const connectionName = `${namespace}-doomed`;
    // The first instance commits the effect, then hangs: its connection dies before it acknowledges.
    const committed = Promise.withResolvers<void>();
    const hang = Promise.withResolvers<void>();
    const doomed = await bus({ connectionName, reconnect: { initialMs: 60_000, maxMs: 60_000 } });
    await doomed.subscribe('consumer', consumer.subscription.types, async (event) => {
      await consumer.subscription.handle(event);
      committed.resolve();
      await hang.promise;
    });
    cleanups.push(async () => hang.resolve());
    const publisher = await publisherModule(await bus());
    await publisher.commit(1, 1);
    await publisher.relay.drain();
    await committed.promise;

    await closeConnection(connectionName);
    const second = await bus();
    const redelivered: string[] = [];
    await second.subscribe('consumer', consumer.subscription.types, async (event) => {
      redelivered.push(event.id);
      await consumer.subscription.handle(event);
    });

    await waitFor('the redelivery', () => redelivered.length > 0);
    expect(consumer.calls).toEqual([1]);
    expect(await consumer.effects()).toEqual([1]);
    expect(await consumer.inbox()).toBe(1);
  });

  it('does not dead-letter a backlog its consumer kept dying on: only handler failures count', async () => {
    const names = amqpNames(namespace);
    const consumer = await consumerModule();
    // The queue exists, then a backlog builds while no consumer runs.
    const first = await bus({ deliveryLimit: 2 });
    await consumer.subscribe(first);
    await first.close();
    const publisher = await publisherModule(await bus());
    await publisher.commit(1, 10);
    await publisher.relay.drain();

    // Five times more than the limit, a consumer takes the backlog (prefetched, unacknowledged) and dies.
    const hang = Promise.withResolvers<void>();
    for (let crash = 1; crash <= 5; crash++) {
      const connectionName = `${namespace}-crashing-${crash}`;
      const received = Promise.withResolvers<void>();
      const crashing = await bus({
        connectionName,
        deliveryLimit: 2,
        reconnect: { initialMs: 60_000, maxMs: 60_000 },
      });
      await crashing.subscribe('consumer', consumer.subscription.types, async () => {
        received.resolve();
        await hang.promise;
      });
      await received.promise;
      await closeConnection(connectionName);
    }
    // The dead consumers' handlers end (their acknowledgements go nowhere), so their buses can close.
    hang.resolve();

    await consumer.subscribe(await bus({ deliveryLimit: 2 }));
    await waitFor('the backlog', async () => (await consumer.effects()).length === 10);
    expect(await consumer.effects()).toEqual(range(1, 10));
    expect(await queueDepth(names.deadQueue('consumer'))).toBe(0);
  });

  it('lets close wait for the handlers in flight and acknowledge them', async () => {
    const consumer = await consumerModule();
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const closing = await createAmqpBus({ url: URL, log, namespace });
    await closing.subscribe('consumer', consumer.subscription.types, async (event) => {
      started.resolve();
      await release.promise;
      await consumer.subscription.handle(event);
    });
    const publisher = await publisherModule(await bus());
    await publisher.commit(1, 1);
    await publisher.relay.drain();
    await started.promise;

    let closed = false;
    const close = closing.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    release.resolve();
    await close;

    expect(await consumer.effects()).toEqual([1]);
    await expect(closing.check()).rejects.toThrow(/closed/);
    // Acknowledged before the connection closed: nothing is left to redeliver.
    expect(await queueDepth(amqpNames(namespace).queue('consumer'))).toBe(0);
  });

  it('dead-letters a poison event after its delivery limit and a malformed message at once, while others flow; replays them', async () => {
    const names = amqpNames(namespace);
    let poisonFixed = false;
    const consumer = await consumerModule({ fail: (n) => n === 1 && !poisonFixed });
    await consumer.subscribe(await bus({ deliveryLimit: 2 }));
    const publisher = await publisherModule(await bus());
    const raw = await (await admin()).createConfirmChannel();
    raw.publish(names.exchange('shop'), 'shop.happened', Buffer.from('not json'), { persistent: true });
    await raw.waitForConfirms();
    await publisher.commit(1, 20);
    await publisher.relay.drain();

    const dead = names.deadQueue('consumer');
    await waitFor('two dead letters', async () => (await queueDepth(dead)) === 2);
    await waitFor('the other events', async () => (await consumer.effects()).length === 19);
    expect(await consumer.effects()).toEqual(range(2, 20));
    expect(consumer.calls.filter((n) => n === 1).length).toBeGreaterThanOrEqual(2);

    // Replayed while still poison, it dies again rather than being dropped as a dead-letter cycle.
    const callsBefore = consumer.calls.filter((n) => n === 1).length;
    expect(await replayDeadLetters(URL, 'consumer', namespace)).toBe(2);
    await waitFor('the poison to die again', async () => (await queueDepth(dead)) === 2);
    expect(consumer.calls.filter((n) => n === 1).length).toBeGreaterThan(callsBefore);

    poisonFixed = true;
    expect(await replayDeadLetters(URL, 'consumer', namespace)).toBe(2);
    await waitFor('the fixed event', async () => (await consumer.effects()).length === 20);
    expect(await consumer.effects()).toEqual(range(1, 20));
    await waitFor('the malformed message back in the dead queue', async () => (await queueDepth(dead)) === 1);
    await raw.close();
  });

  it('gives a non-durable subscription a queue of its own that goes away with the bus', async () => {
    const edge = await createAmqpBus({ url: URL, log, namespace });
    const received: number[] = [];
    await edge.subscribe(
      'edge',
      ['shop.happened'],
      async (event) => {
        received.push((event.data as { n: number }).n);
      },
      { durable: false },
    );
    const transientQueues = async () =>
      (await rabbitmqctl('list_queues', 'name', '-q', '--no-table-headers'))
        .split('\n')
        .filter((q) => q.startsWith(`${namespace}.edge`));
    const queues = await transientQueues();
    expect(queues).toHaveLength(1);
    expect(queues[0]).not.toBe(`${namespace}.edge`);

    const publisher = await bus();
    await publisher.publish(createEnvelope('shop', 'shop.happened', { n: 1 }));
    await waitFor('the event', () => received.length === 1);
    await edge.close();

    expect(await transientQueues()).toEqual([]);
  });

  it('refuses a second subscription of one consumer, and publishing after close', async () => {
    const closing = await createAmqpBus({ url: URL, log, namespace });
    await closing.subscribe('consumer', ['shop.happened'], async () => {});
    await expect(closing.subscribe('consumer', ['shop.happened'], async () => {})).rejects.toThrow(/already/);
    await closing.check();
    await closing.close();
    await expect(closing.publish(createEnvelope('shop', 'shop.happened', { n: 1 }))).rejects.toThrow(
      /closed/,
    );
  });

  it('rejects a subscription the broker refuses, and keeps working', async () => {
    const channel = await (await admin()).createChannel();
    // A classic queue of the same name: the broker refuses to declare it as a quorum queue.
    await channel.assertQueue(amqpNames(namespace).queue('clash'), { durable: true });
    await channel.close();
    const refused = await bus();

    await expect(refused.subscribe('clash', ['shop.happened'], async () => {})).rejects.toThrow(
      /PRECONDITION/,
    );

    await refused.check();
    await refused.publish(createEnvelope('shop', 'shop.happened', { n: 1 }));
    await refused.subscribe('clash', ['shop.happened'], async () => {}, { durable: false });
    await expect(replayDeadLetters(URL, 'nobody', namespace)).rejects.toThrow(/NOT.FOUND/);
  });

  it('reconnects after the broker restarts, delivering events committed during the outage once', async () => {
    const consumer = await consumerModule();
    const consumerBus = await bus();
    await consumer.subscribe(consumerBus);
    // A process-local queue beside it (the gateway's cache invalidations) hears that it starts afresh.
    let resubscribed = 0;
    await consumerBus.subscribe('edge-cache', ['shop.happened'], async () => {}, {
      durable: false,
      onResubscribed: () => resubscribed++,
    });
    const lines: Array<{ level: number; msg: string }> = [];
    const publisherBus = await bus({
      log: pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    });
    const publisher = await publisherModule(publisherBus);
    const relay = createOutboxRelay({
      db: publisher.db.db,
      bus: publisherBus,
      log,
      pollIntervalMs: 100,
      baseBackoffMs: 50,
      maxBackoffMs: 500,
      maxAttempts: 1000,
    });
    cleanups.push(() => relay.stop());
    relay.start();
    await publisher.commit(1, 20);
    await waitFor('the first events', async () => (await consumer.effects()).length === 20);
    expect(resubscribed).toBe(0);

    try {
      await rabbitmqctl('stop_app');
      await waitFor('the bus to notice', () =>
        publisherBus.check().then(
          () => false,
          () => true,
        ),
      );
      const started = Date.now();
      await expect(publisherBus.publish(createEnvelope('shop', 'shop.happened', { n: 0 }))).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1000);
      await publisher.commit(21, 40);
      relay.notify();
    } finally {
      await rabbitmqctl('start_app');
      await rabbitmqctl('await_startup');
    }

    await waitFor('every event', async () => (await consumer.effects()).length >= 40, 30_000);
    await waitFor('the relay to mark them sent', async () => (await publisher.unsent()) === 0);
    // A bus counts as connected once every subscription is back: the consumer's durable queue can
    // deliver (above) while the reconnection still declares the process-local queue beside it.
    const connected = (b: EventBus) => () =>
      b.check().then(
        () => true,
        () => false,
      );
    await waitFor('the publisher to be connected', connected(publisherBus));
    await waitFor('the consumer to be connected', connected(consumerBus));
    expect(await consumer.effects()).toEqual(range(1, 40));
    expect(resubscribed).toBe(1);
    // Each failed attempt is logged at debug; the first also at warn, and no other before a minute.
    const failed = lines.filter((line) => line.msg === 'AMQP reconnection failed; will retry');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.filter((line) => line.level === 40)).toHaveLength(1);
  }, 90_000);
});
