import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import type { CallContext } from '../../platform/context.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import type { Emit, Outbox } from '../../platform/events/outbox.ts';
import type { OrdersEvents } from './contract.ts';
import { type DomainEvent, fold, type OrderState, type RecordedEvent } from './events.ts';
import { updateProjection } from './projection.ts';
import {
  extendLease,
  finishSaga,
  insertEvents,
  insertSaga,
  loadEvents,
  type OrdersDatabase,
  restartSaga,
} from './repository.ts';

/** An order's stream and its fold. */
export interface Loaded {
  readonly events: readonly RecordedEvent[];
  readonly state: OrderState | undefined;
}

export interface AppendOptions {
  readonly ctx?: CallContext;
  /**
   * The caller runs the saga's next step: the saga row is left leased to it, the lease taken as the row
   * is created (OrderPlaced) or restarted (CancellationRequested), or else extended.
   */
  readonly keepLease?: boolean;
  /** Further writes that must commit with the events (the idempotency key). */
  readonly also?: (trx: Transaction<OrdersDatabase>) => Promise<void>;
}

/** Decides what to append from the current state; no events means nothing to do. */
export type Decide = (loaded: Loaded) => DomainEvent[] | Promise<DomainEvent[]>;

/** Another writer appended at the same version first. */
export class ConcurrencyConflict extends Error {
  constructor(orderId: string) {
    super(`Order ${orderId} changed while this change was decided`);
    this.name = 'ConcurrencyConflict';
  }
}

export interface OrderStore {
  load(orderId: string): Promise<Loaded>;
  /** Appends after `loaded`; raises ConcurrencyConflict if the stream moved on meanwhile. */
  append(orderId: string, loaded: Loaded, events: DomainEvent[], options?: AppendOptions): Promise<Loaded>;
  /** Loads, decides and appends, deciding again on a conflict (bounded): never overwrites. */
  execute(orderId: string, decide: Decide, options?: AppendOptions): Promise<Loaded>;
}

export interface OrderStoreOptions {
  readonly db: Kysely<OrdersDatabase>;
  readonly outbox: Outbox<OrdersDatabase, OrdersEvents>;
  readonly clock: Clock;
  readonly deadlineMs: number;
  readonly leaseMs: number;
  readonly maxConflicts?: number;
}

/**
 * The event store of orders. Every append writes, in one transaction: the events, the read-model row
 * (the fold), the saga row (created with OrderPlaced, restarted with CancellationRequested, done with
 * the terminal event) and the integration events in the outbox.
 */
export function createOrderStore(options: OrderStoreOptions): OrderStore {
  const { db, outbox, clock, deadlineMs, leaseMs } = options;
  const maxConflicts = options.maxConflicts ?? 5;

  async function load(orderId: string): Promise<Loaded> {
    const events = await loadEvents(db, orderId);
    return { events, state: fold(orderId, events) };
  }

  async function append(
    orderId: string,
    loaded: Loaded,
    events: DomainEvent[],
    appendOptions: AppendOptions = {},
  ): Promise<Loaded> {
    const now = clock.now();
    const at = now.toISOString();
    const nowMs = now.getTime();
    return outbox.transaction(async (trx, emit) => {
      let recorded: RecordedEvent[];
      try {
        recorded = await insertEvents(trx, orderId, loaded.state?.version ?? 0, events, at);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConcurrencyConflict(orderId);
        throw err;
      }
      const all = [...loaded.events, ...recorded];
      const state = fold(orderId, all)!;
      await updateProjection(trx, state);
      const leaseUntil = appendOptions.keepLease ? nowMs + leaseMs : null;
      const saga = {
        next_attempt_at: nowMs + leaseMs,
        deadline_at: nowMs + deadlineMs,
        lease_until: leaseUntil,
        updated_at: at,
      };
      let sagaWritten = false;
      for (const event of recorded) {
        if (event.type === 'OrderPlaced') {
          await insertSaga(trx, { order_id: orderId, kind: 'place', ...saga });
          sagaWritten = true;
        }
        if (event.type === 'CancellationRequested') {
          await restartSaga(trx, orderId, { kind: 'cancel', ...saga });
          sagaWritten = true;
        }
        publish(emit, state, event, appendOptions.ctx);
      }
      if (state.next.kind === 'none') await finishSaga(trx, orderId, at);
      else if (leaseUntil !== null && !sagaWritten) await extendLease(trx, orderId, leaseUntil);
      await appendOptions.also?.(trx);
      return { events: all, state };
    });
  }

  async function execute(orderId: string, decide: Decide, appendOptions?: AppendOptions): Promise<Loaded> {
    for (let attempt = 0; ; attempt++) {
      const loaded = await load(orderId);
      const events = await decide(loaded);
      if (events.length === 0) return loaded;
      try {
        return await append(orderId, loaded, events, appendOptions);
      } catch (err) {
        if (!(err instanceof ConcurrencyConflict) || attempt >= maxConflicts) throw err;
      }
    }
  }

  return { load, append, execute };
}

/** The integration events other modules hear, raised with the domain events that cause them. */
function publish(
  emit: Emit<OrdersEvents>,
  state: OrderState,
  event: RecordedEvent,
  ctx: CallContext | undefined,
): void {
  const base = { order_id: state.id, user_id: state.user_id };
  switch (event.type) {
    case 'OrderConfirmed':
      emit(
        'orders.order_confirmed',
        {
          ...base,
          total_minor: state.total_minor ?? 0,
          currency: state.currency,
          items: state.items.map((i) => ({ ...i, unit_price_minor: i.unit_price_minor ?? 0 })),
        },
        ctx,
      );
      return;
    case 'OrderCancelled':
      emit('orders.order_cancelled', { ...base, reason: event.data.reason.code }, ctx);
      return;
    case 'OrderShipped':
      emit('orders.order_shipped', base, ctx);
      return;
    default:
      return;
  }
}
