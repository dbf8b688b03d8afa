import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import type { EventEnvelope } from './envelope.ts';

/**
 * The names of everything the AMQP bus declares, under one namespace (`splitshop` in production, a
 * unique one per test run).
 */
export interface AmqpNames {
  /** The topic exchange a module publishes to: `<ns>.<source>`. */
  exchange(source: string): string;
  /** A consuming module's queue: `<ns>.<consumer>`. */
  queue(consumer: string): string;
  /** Where a consumer's poison messages wait for `replayDeadLetters`: `<ns>.<consumer>.dead`. */
  deadQueue(consumer: string): string;
  /** The direct exchange every consumer queue dead-letters to, keyed by the queue's name. */
  readonly deadLetterExchange: string;
}

/** The names under `namespace`, which production leaves at `splitshop`. */
export function amqpNames(namespace = 'splitshop'): AmqpNames {
  return {
    exchange: (source) => `${namespace}.${source}`,
    queue: (consumer) => `${namespace}.${consumer}`,
    deadQueue: (consumer) => `${namespace}.${consumer}.dead`,
    deadLetterExchange: `${namespace}.dead-letter`,
  };
}

/** The publishing module of an event type `<module>.<event>`, whose exchange carries it. */
export function sourceOfType(type: string): string {
  const dot = type.indexOf('.');
  if (dot <= 0) throw new Error(`Event type ${type} is not <module>.<event>`);
  return type.slice(0, dot);
}

/** A publisher's exchange; declaring it is idempotent, and a consumer declares it too before binding. */
export async function assertSourceExchange(
  channel: Channel,
  names: AmqpNames,
  source: string,
): Promise<string> {
  const exchange = names.exchange(source);
  await channel.assertExchange(exchange, 'topic', { durable: true });
  return exchange;
}

/**
 * Declares a consumer's durable queue, its dead-letter queue and its bindings, and returns the queue.
 * The consumer dead-letters a message its handler failed on more than `deliveryLimit` times; the
 * quorum queue's own delivery limit, `deliveryLimit + CRASH_BACKSTOP`, catches only a message that keeps
 * killing its consumer before it can count. At-least-once dead-lettering keeps it in the queue until the dead-letter
 * queue confirmed it, which RabbitMQ allows only with `reject-publish` overflow. Queue arguments
 * cannot change once declared: to change the limit of an existing queue, use a policy.
 */
export async function assertConsumerQueue(
  channel: Channel,
  names: AmqpNames,
  consumer: string,
  types: readonly string[],
  deliveryLimit: number,
): Promise<string> {
  const queue = names.queue(consumer);
  const dead = names.deadQueue(consumer);
  const exchanges = new Set(types.map(sourceOfType));
  await channel.assertExchange(names.deadLetterExchange, 'direct', { durable: true });
  await channel.assertQueue(dead, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(dead, names.deadLetterExchange, queue);
  await channel.assertQueue(queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': deliveryLimit + CRASH_BACKSTOP,
      'x-dead-letter-exchange': names.deadLetterExchange,
      'x-dead-letter-routing-key': queue,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  });
  for (const source of exchanges) await assertSourceExchange(channel, names, source);
  for (const type of types) await channel.bindQueue(queue, names.exchange(sourceOfType(type)), type);
  return queue;
}

/**
 * Declares a queue that lives only as long as this connection, for a consumer that needs events only
 * while it runs (an edge cache's invalidations). Reconnecting gives it a new, empty queue.
 */
export async function assertTransientQueue(
  channel: Channel,
  names: AmqpNames,
  consumer: string,
  types: readonly string[],
): Promise<string> {
  const { queue } = await channel.assertQueue(`${names.queue(consumer)}.${randomUUID()}`, {
    exclusive: true,
    autoDelete: true,
    durable: false,
  });
  for (const source of new Set(types.map(sourceOfType))) await assertSourceExchange(channel, names, source);
  for (const type of types) await channel.bindQueue(queue, names.exchange(sourceOfType(type)), type);
  return queue;
}

/** The body and properties of an event on the wire; the body is the whole envelope. */
export function encodeEvent(event: EventEnvelope): { content: Buffer; options: Options.Publish } {
  const headers: Record<string, string> = {};
  if (event.traceparent) headers.traceparent = event.traceparent;
  if (event.request_id) headers.request_id = event.request_id;
  const occurred = Date.parse(event.occurred_at);
  return {
    content: Buffer.from(JSON.stringify(event)),
    options: {
      persistent: true,
      messageId: event.id,
      type: event.type,
      appId: event.source,
      contentType: 'application/json',
      // AMQP timestamps are whole seconds.
      timestamp: Math.floor((Number.isNaN(occurred) ? Date.now() : occurred) / 1000),
      headers,
    },
  };
}

/** The envelope in a delivery, or undefined if it is not one (not JSON, no id or type). */
export function decodeEvent(message: ConsumeMessage): EventEnvelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message.content.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { id, type } = value as Record<string, unknown>;
  if (typeof id !== 'string' || id === '' || typeof type !== 'string' || type === '') return undefined;
  return value as EventEnvelope;
}

/** The header a consumer's copy of a failed message carries: how many times its handler failed. */
export const FAILURES_HEADER = 'x-splitshop-failures';

/** How many times a consumer's handler failed on this message before (its `x-splitshop-failures`). */
export function failuresOf(message: ConsumeMessage): number {
  const count = Number(message.properties.headers?.[FAILURES_HEADER] ?? 0);
  return Number.isFinite(count) && count > 0 ? count : 0;
}

/**
 * Returns of a message to its queue the broker tolerates beyond the consumer's own failure count
 * before it dead-letters it: returns because a consumer died (a crash loop, a poison message that kills
 * the process) count there and nowhere else.
 */
export const CRASH_BACKSTOP = 50;
