import type { Transaction } from 'kysely';
import { crashPoint } from '../faults.ts';
import type { EventEnvelope, EventMap } from './envelope.ts';
import type { Emit, Outbox } from './outbox.ts';
import type { EventTables } from './tables.ts';

/** Applies one event's effect inside the consumer's transaction; it may raise events of its own. */
export type ConsumerHandler<DB, T, E extends EventMap> = (
  event: EventEnvelope<T>,
  trx: Transaction<DB>,
  emit: Emit<E>,
) => Promise<void>;

/** The handlers a module declares for the events it consumes, by event type. */
export type ConsumerHandlers<DB, In extends EventMap, Out extends EventMap> = {
  [K in keyof In]?: ConsumerHandler<DB, In[K], Out>;
};

/** What a module hands the composition root for each bus subscription. */
export interface Subscription {
  /** The consuming module: one queue per consumer. */
  readonly consumer: string;
  readonly types: readonly string[];
  handle(event: EventEnvelope): Promise<void>;
}

/**
 * Wraps handlers with an inbox: the event id is recorded in the same transaction as the effect, so a
 * redelivered event has no second effect.
 */
export function createSubscription<DB extends EventTables, In extends EventMap, Out extends EventMap>(
  consumer: string,
  outbox: Outbox<DB, Out>,
  handlers: ConsumerHandlers<DB, In, Out>,
): Subscription {
  const types = Object.keys(handlers);
  return {
    consumer,
    types,
    async handle(event) {
      const handler = handlers[event.type as keyof In] as ConsumerHandler<DB, unknown, Out> | undefined;
      if (!handler) return;
      const applied = await outbox.transaction(async (trx, emit) => {
        const inserted = await (trx as unknown as Transaction<EventTables>)
          .insertInto('inbox')
          .values({ consumer, event_id: event.id, handled_at: Date.now() })
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
        await handler(event, trx, emit);
        return true;
      });
      // The effect is committed but the delivery not yet acknowledged (AMQP) nor reported to the relay
      // (in-memory bus): the event comes again and the inbox absorbs it.
      if (applied) crashPoint('consumer.after_commit_before_ack');
    },
  };
}
