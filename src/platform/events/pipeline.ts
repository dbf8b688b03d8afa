import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { EventBus } from './bus.ts';
import type { EventMap } from './envelope.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createOutboxRelay, type OutboxRelay } from './relay.ts';
import type { EventTables } from './tables.ts';

/** A module's outbox and the relay that drains it onto the bus, woken on every commit. */
export interface EventPipeline<DB extends EventTables, E extends EventMap> {
  readonly outbox: Outbox<DB, E>;
  readonly relay: OutboxRelay;
}

export function createEventPipeline<DB extends EventTables, E extends EventMap>(options: {
  db: Kysely<DB>;
  bus: EventBus;
  log: Logger;
  source: string;
}): EventPipeline<DB, E> {
  const outbox = createOutbox<DB, E>(options.db, options.source);
  const relay = createOutboxRelay({
    db: options.db,
    bus: options.bus,
    log: options.log.child({ component: 'outbox-relay' }),
  });
  outbox.onCommit(() => relay.notify());
  return { outbox, relay };
}
