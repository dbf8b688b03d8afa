import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { decodeEvent, type encodeEvent, failuresOf } from './amqp-topology.ts';
import type { EventHandler } from './bus.ts';

/** Publishes on one confirm channel, many confirms in flight at once. */
export interface ConfirmedPublisher {
  /**
   * Resolves when the broker confirmed the message; rejects on a nack, on the channel's close, or
   * after the timeout. While the channel's write buffer is full, waits for it to drain first.
   */
  publish(exchange: string, routingKey: string, message: ReturnType<typeof encodeEvent>): Promise<void>;
}

/** Publishing state lives per channel: a new channel after a reconnection gets a new publisher. */
export function createConfirmedPublisher(
  channel: ConfirmChannel,
  confirmTimeoutMs: number,
): ConfirmedPublisher {
  let drained: Promise<void> | undefined;
  let closed = false;
  channel.once('close', () => {
    closed = true;
  });

  function waitForDrain(): Promise<void> {
    return new Promise<void>((release) => {
      const resume = () => {
        drained = undefined;
        channel.off('drain', resume);
        channel.off('close', resume);
        release();
      };
      channel.on('drain', resume);
      channel.on('close', resume);
    });
  }

  return {
    async publish(exchange, routingKey, message) {
      while (drained) await drained;
      if (closed) throw new Error('The AMQP publish channel is closed');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No confirm from the broker within ${confirmTimeoutMs} ms`)),
          confirmTimeoutMs,
        );
        const done = (err: unknown) => {
          clearTimeout(timer);
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve();
        };
        try {
          const written = channel.publish(exchange, routingKey, message.content, message.options, done);
          // The message is buffered either way; later ones wait until the buffer drains.
          if (!written) drained ??= waitForDrain();
        } catch (err) {
          done(err);
        }
      });
    },
  };
}

/** The subscription a delivery belongs to, and how to treat its failures. */
export interface DeliveryOptions {
  readonly consumer: string;
  readonly handler: EventHandler;
  /** A durable queue has a delivery limit and a dead-letter queue; a transient one has neither. */
  readonly durable: boolean;
  /** Failed handlings of one event before it is dead-lettered (durable queues). */
  readonly deliveryLimit: number;
  /**
   * Puts a copy back at the tail of the queue, with this failure count, and resolves on the broker's
   * confirm (durable queues); the original is acknowledged only then.
   */
  readonly requeue: (message: ConsumeMessage, failures: number) => Promise<void>;
  readonly redeliveryDelayMs: number;
  /** Waits before a failed delivery is returned; resolves at once when the bus closes. */
  readonly wait: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/**
 * Handles one delivery: acknowledges it after the handler resolved; when the handler rejected, after a
 * delay that grows with its failures, puts a copy carrying its failure count back in the queue and
 * acknowledges the original, or dead-letters it once it failed more than `deliveryLimit` times; a
 * malformed message is dead-lettered at once. Failures are counted here, not by the broker: a quorum
 * queue also counts a message returned because its consumer died, so a consumer that crash-loops with a
 * backlog would dead-letter events it never handled (the queue's own limit is only a high backstop).
 * Returns the handling in flight, or undefined if there is none.
 */
export function handleDelivery(
  channel: Channel,
  message: ConsumeMessage,
  options: DeliveryOptions,
): Promise<void> | undefined {
  const { consumer, handler, durable, log } = options;
  // Once the channel is gone the broker redelivers unacknowledged messages itself.
  const settle = (ack: boolean, requeue = false) => {
    try {
      if (ack) channel.ack(message);
      else channel.nack(message, false, requeue);
    } catch (err) {
      log.debug({ err, consumer }, 'delivery not settled: its channel is closed');
    }
  };
  const event = decodeEvent(message);
  if (!event) {
    log.error(
      { consumer, messageId: message.properties.messageId, routingKey: message.fields.routingKey },
      'malformed message dead-lettered',
    );
    settle(false);
    return undefined;
  }
  return (async () => {
    try {
      await handler(event);
      settle(true);
    } catch (err) {
      const deliveries = failuresOf(message) + 1;
      log.warn({ err, consumer, eventId: event.id, type: event.type, deliveries }, 'event handler failed');
      if (!durable) {
        // A transient queue has no delivery limit: one more try, then the event is dropped.
        if (message.fields.redelivered) log.error({ consumer, eventId: event.id }, 'event dropped');
        settle(false, !message.fields.redelivered);
        return;
      }
      if (deliveries > options.deliveryLimit) {
        log.error({ consumer, eventId: event.id, deliveries }, 'event dead-lettered');
        settle(false);
        return;
      }
      await options.wait(options.redeliveryDelayMs * 2 ** Math.min(deliveries - 1, 5));
      try {
        await options.requeue(message, deliveries);
        settle(true);
      } catch (requeueErr) {
        // No confirmed copy: the broker returns the original instead (and counts it).
        log.warn({ err: requeueErr, consumer, eventId: event.id }, 'failed event returned to its queue');
        settle(false, true);
      }
    }
  })();
}
