import type { EventEnvelope } from './envelope.ts';

/** Handles one event. Resolving acknowledges it; rejecting asks for a redelivery. */
export type EventHandler = (event: EventEnvelope) => Promise<void>;

/** How a consumer's queue lives. */
export interface SubscribeOptions {
  /**
   * `false`: a queue of this process only, deleted when it stops, for a consumer that needs events
   * only while it runs (an edge cache's invalidations). Default `true`: the consumer's durable queue,
   * shared by all its processes, which keeps events while none runs.
   */
  readonly durable?: boolean;
  /**
   * Called when the subscription is declared again after the connection came back. A non-durable
   * queue is a new queue then: whatever was published meanwhile never reached it, so a consumer that
   * keeps state from events (a cache) must start afresh.
   */
  readonly onResubscribed?: () => void;
}

/**
 * The transport between an outbox relay and consumers. Delivery is at least once:
 * consumers make effects exactly once through their inbox.
 */
export interface EventBus {
  readonly kind: 'memory' | 'amqp';
  /**
   * Resolves once the event is durably accepted: by the broker's confirm over AMQP, by every
   * subscriber's commit in memory. Only then may the outbox row be marked sent.
   */
  publish(event: EventEnvelope): Promise<void>;
  /** Registers `consumer` (one queue per consuming module) for `types`. */
  subscribe(
    consumer: string,
    types: readonly string[],
    handler: EventHandler,
    options?: SubscribeOptions,
  ): Promise<void>;
  /** Answers when the bus can carry events. */
  check(): Promise<void>;
  close(): Promise<void>;
}
