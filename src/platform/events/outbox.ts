import type { Kysely, Transaction } from 'kysely';
import type { CallContext } from '../context.ts';
import { createEnvelope, type EventEnvelope, type EventMap } from './envelope.ts';
import type { EventTables } from './tables.ts';

/** Raises an event inside a unit of work; it is written to the outbox when the work commits. */
export type Emit<E extends EventMap> = <K extends keyof E & string>(
  type: K,
  data: E[K],
  ctx?: CallContext,
) => void;

/** A unit of work over a module's database that can raise events atomically with its writes. */
export interface Outbox<DB extends EventTables, E extends EventMap> {
  /**
   * Runs `work` in one write transaction; events it emits are inserted into the outbox in that same
   * transaction, and the relay is woken once it has committed. A rollback publishes nothing.
   */
  transaction<T>(work: (trx: Transaction<DB>, emit: Emit<E>) => Promise<T>): Promise<T>;
  /** Called after every commit that wrote events. */
  onCommit(listener: () => void): void;
}

export function createOutbox<DB extends EventTables, E extends EventMap>(
  db: Kysely<DB>,
  source: string,
): Outbox<DB, E> {
  const listeners: Array<() => void> = [];
  return {
    async transaction(work) {
      let wrote = false;
      const result = await db.transaction().execute(async (trx) => {
        const pending: EventEnvelope[] = [];
        const emit: Emit<E> = (type, data, ctx) => {
          pending.push(createEnvelope(source, type, data, ctx));
        };
        const value = await work(trx, emit);
        if (pending.length > 0) {
          await insertOutboxRows(trx as unknown as Transaction<EventTables>, pending);
          wrote = true;
        }
        return value;
      });
      if (wrote) for (const listener of listeners) listener();
      return result;
    },
    onCommit(listener) {
      listeners.push(listener);
    },
  };
}

async function insertOutboxRows(trx: Transaction<EventTables>, events: EventEnvelope[]): Promise<void> {
  const now = Date.now();
  await trx
    .insertInto('outbox')
    .values(
      events.map((e) => ({
        event_id: e.id,
        type: e.type,
        envelope: JSON.stringify(e),
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
      })),
    )
    .execute();
}
