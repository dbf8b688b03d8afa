import { type Channel, type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { type Logger, repeatedFailureLog } from '../log.ts';
import { backoffMs } from '../worker.ts';
import { type ConfirmedPublisher, createConfirmedPublisher, handleDelivery } from './amqp-channels.ts';
import {
  amqpNames,
  assertConsumerQueue,
  assertSourceExchange,
  assertTransientQueue,
  encodeEvent,
  FAILURES_HEADER,
} from './amqp-topology.ts';
import type { EventBus, EventHandler, SubscribeOptions } from './bus.ts';

/** What `createAmqpBus` needs; everything but the URL and the logger has a default. */
export interface AmqpBusOptions {
  /** `amqp://user:password@host:port/vhost`; query parameters such as `heartbeat` pass through. */
  readonly url: string;
  readonly log: Logger;
  /** The prefix of every exchange and queue; tests use a unique one. Default `splitshop`. */
  readonly namespace?: string;
  /** Unacknowledged deliveries per consumer. Default 32. */
  readonly prefetch?: number;
  /** Deliveries of one message before its queue dead-letters it. Default 5. */
  readonly deliveryLimit?: number;
  /** How long `publish` waits for the broker's confirm. Default 10 s. */
  readonly confirmTimeoutMs?: number;
  /**
   * Backoff between reconnection attempts, doubled each time, with jitter. Default 500 ms to 5 s: once
   * the broker is back, events wait for the outbox relay at most that long, and a try every few seconds
   * from each process costs the broker nothing.
   */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /**
   * How long a failed delivery is held before it is returned to its queue, doubled per earlier
   * delivery up to 32 times itself: a transient failure gets time to pass before the delivery limit.
   * Default 200 ms.
   */
  readonly redeliveryDelayMs?: number;
  /** Shown by the broker for this connection (`rabbitmqctl list_connections client_properties`). */
  readonly connectionName?: string;
}

interface Registration {
  readonly consumer: string;
  readonly types: readonly string[];
  readonly handler: EventHandler;
  readonly durable: boolean;
  readonly onResubscribed: (() => void) | undefined;
  readonly ready: PromiseWithResolvers<void>;
}

/** One connection and its channels; replaced as a whole when any part of it is lost. */
interface Session {
  readonly connection: ChannelModel;
  readonly channel: ConfirmChannel;
  readonly publisher: ConfirmedPublisher;
  /** The exchanges declared on this connection, by source. */
  readonly exchanges: Map<string, Promise<unknown>>;
  readonly consumers: Map<string, { channel: Channel; tag: string }>;
  blocked: string | undefined;
  lost: boolean;
}

/**
 * The event bus over RabbitMQ. Each publishing module has a durable topic exchange, each consuming
 * module a durable quorum queue bound to the types it handles. `publish` resolves on the broker's
 * confirm; a delivery is acknowledged only after its handler resolved (the consumer's transaction,
 * with its inbox row, committed), so delivery is at least once and the inbox makes the effect once.
 *
 * Resolves once connected (and rejects if the broker cannot be reached, so a misconfigured process
 * fails at start-up). A lost connection or channel is then re-established with backoff: topology and
 * subscriptions are declared again, and `publish` and `check` reject promptly until it is back.
 */
export async function createAmqpBus(options: AmqpBusOptions): Promise<EventBus> {
  const { url, log } = options;
  const names = amqpNames(options.namespace);
  const prefetch = options.prefetch ?? 32;
  const deliveryLimit = options.deliveryLimit ?? 5;
  const confirmTimeoutMs = options.confirmTimeoutMs ?? 10_000;
  const { initialMs, maxMs } = options.reconnect ?? { initialMs: 500, maxMs: 5_000 };
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 200;

  const registrations = new Map<string, Registration>();
  const handling = new Set<Promise<void>>();
  const publishing = new Set<Promise<void>>();
  const sleepers = new Set<() => void>();
  let session: Session | undefined;
  let reconnecting: Promise<void> | undefined;
  let closing = false;

  /** Waits `ms`, or less if the bus closes meanwhile. */
  function sleep(ms: number): Promise<void> {
    if (closing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  async function openSession(): Promise<Session> {
    const connection = await connect(url, {
      clientProperties: options.connectionName ? { connection_name: options.connectionName } : {},
    });
    try {
      connection.on('error', (err) => log.warn({ err }, 'AMQP connection error'));
      const channel = await connection.createConfirmChannel();
      channel.on('error', (err) => log.warn({ err }, 'AMQP publish channel error'));
      const s: Session = {
        connection,
        channel,
        publisher: createConfirmedPublisher(channel, confirmTimeoutMs),
        exchanges: new Map(),
        consumers: new Map(),
        blocked: undefined,
        lost: false,
      };
      connection.on('close', (err?: Error) => lose(s, err ?? new Error('AMQP connection closed')));
      channel.on('close', () => lose(s, new Error('AMQP publish channel closed')));
      connection.on('blocked', (reason: string) => {
        s.blocked = reason;
        log.warn({ reason }, 'the broker blocked publishing');
      });
      connection.on('unblocked', () => {
        s.blocked = undefined;
        log.info('the broker unblocked publishing');
      });
      // A subscription registered while this loop awaits is picked up by the next pass.
      for (;;) {
        const missing = [...registrations.values()].filter((r) => !s.consumers.has(r.consumer));
        if (missing.length === 0) break;
        for (const registration of missing) await startConsumer(s, registration);
      }
      return s;
    } catch (err) {
      await connection.close().catch(() => {});
      throw err;
    }
  }

  /** Tears a session down after any part of it failed, and starts reconnecting. */
  function lose(s: Session, err: Error): void {
    if (s.lost) return;
    s.lost = true;
    s.connection.close().catch(() => {});
    if (session !== s) return;
    session = undefined;
    if (closing) return;
    log.error({ err }, 'AMQP connection lost; reconnecting');
    reconnecting ??= reconnect();
  }

  // The broker may be away for long: its first failed reconnection is a warning, then one a minute.
  const reconnectFailures = repeatedFailureLog(log, 'AMQP reconnection failed; will retry', {
    level: 'warn',
  });

  async function reconnect(): Promise<void> {
    try {
      for (let attempt = 1; !closing; attempt++) {
        await sleep(backoffMs(attempt, { baseMs: initialMs, maxMs, jitter: true }));
        if (closing) return;
        try {
          const s = await openSession();
          if (closing || s.lost) {
            await s.connection.close().catch(() => {});
            continue;
          }
          session = s;
          reconnectFailures.succeeded();
          log.info({ attempt }, 'AMQP connection re-established');
          for (const registration of registrations.values()) registration.onResubscribed?.();
          return;
        } catch (err) {
          reconnectFailures.failed(err, { attempt });
        }
      }
    } finally {
      // In the same turn as `session = s`, so a loss of the new session starts a new loop.
      reconnecting = undefined;
    }
  }

  async function startConsumer(s: Session, registration: Registration): Promise<void> {
    const channel = await s.connection.createChannel();
    channel.on('error', (err) => log.warn({ err, consumer: registration.consumer }, 'AMQP channel error'));
    try {
      await channel.prefetch(prefetch);
      const { consumer, types } = registration;
      const queue = registration.durable
        ? await assertConsumerQueue(channel, names, consumer, types, deliveryLimit)
        : await assertTransientQueue(channel, names, consumer, types);
      const { consumerTag } = await channel.consume(queue, (message) => {
        if (!message) {
          lose(s, new Error(`The broker cancelled consumer ${consumer}`));
          return;
        }
        const work = handleDelivery(channel, message, {
          consumer,
          handler: registration.handler,
          durable: registration.durable,
          deliveryLimit,
          // The copy goes straight to this queue (the default exchange) on the confirm channel.
          requeue: (failed, failures) =>
            s.publisher.publish('', queue, {
              content: failed.content,
              options: {
                ...failed.properties,
                persistent: true,
                headers: { ...failed.properties.headers, [FAILURES_HEADER]: failures },
              },
            }),
          redeliveryDelayMs,
          wait: sleep,
          log,
        });
        if (!work) return;
        handling.add(work);
        void work.finally(() => handling.delete(work));
      });
      channel.on('close', () => lose(s, new Error(`AMQP channel of consumer ${consumer} closed`)));
      s.consumers.set(consumer, { channel, tag: consumerTag });
      registration.ready.resolve();
    } catch (err) {
      await channel.close().catch(() => {});
      throw err;
    }
  }

  function ensureExchange(s: Session, source: string): Promise<unknown> {
    let declared = s.exchanges.get(source);
    if (!declared) {
      declared = assertSourceExchange(s.channel, names, source);
      s.exchanges.set(source, declared);
    }
    return declared;
  }

  function unavailable(): Error | undefined {
    if (closing) return new Error('The event bus is closed');
    if (!session) return new Error('The event bus is disconnected from the broker');
    if (session.blocked) return new Error(`The broker blocks publishing: ${session.blocked}`);
    return undefined;
  }

  session = await openSession();
  if (session.lost) throw new Error('The AMQP connection was lost while it was being set up');

  return {
    kind: 'amqp',
    async publish(event) {
      const problem = unavailable();
      if (problem) throw problem;
      const s = session!;
      const message = encodeEvent(event);
      const work = ensureExchange(s, event.source).then(() =>
        s.publisher.publish(names.exchange(event.source), event.type, message),
      );
      publishing.add(work);
      try {
        await work;
      } finally {
        publishing.delete(work);
      }
    },
    async subscribe(consumer, types, handler, subscribeOptions?: SubscribeOptions) {
      if (closing) throw new Error('The event bus is closed');
      if (registrations.has(consumer)) throw new Error(`Consumer ${consumer} is already subscribed`);
      const registration: Registration = {
        consumer,
        types: [...types],
        handler,
        durable: subscribeOptions?.durable ?? true,
        onResubscribed: subscribeOptions?.onResubscribed,
        ready: Promise.withResolvers<void>(),
      };
      registrations.set(consumer, registration);
      const s = session;
      if (s) {
        try {
          await startConsumer(s, registration);
        } catch (err) {
          // A refused declaration fails the call; a lost connection only defers it to the next session.
          if (!s.lost) {
            registrations.delete(consumer);
            throw err;
          }
        }
      }
      await registration.ready.promise;
    },
    async check() {
      const problem = unavailable();
      if (problem) throw problem;
      // A round trip: a connection can look open while the broker no longer answers.
      const answered = session!.channel.checkExchange('amq.topic');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('The broker did not answer')), confirmTimeoutMs);
      });
      await Promise.race([answered, late]).finally(() => clearTimeout(timer));
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const wake of [...sleepers]) wake();
      await reconnecting;
      for (const registration of registrations.values()) {
        registration.ready.reject(new Error('The event bus is closed'));
      }
      const s = session;
      if (s) {
        for (const { channel, tag } of s.consumers.values()) await channel.cancel(tag).catch(() => {});
      }
      // Deliveries in flight settle (their requeue delays are cut short), publishes get their confirm.
      await Promise.allSettled([...handling]);
      await Promise.allSettled([...publishing]);
      if (s) {
        s.lost = true;
        session = undefined;
        // Channels first: the broker answers a channel's close after the acks sent on it, while
        // closing the connection straight away can lose them, and redeliver what was handled.
        for (const { channel } of s.consumers.values()) await channel.close().catch(() => {});
        await s.channel.close().catch(() => {});
        await s.connection.close().catch(() => {});
      }
    },
  };
}
