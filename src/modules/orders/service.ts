import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import type { Actor, CallContext } from '../../platform/context.ts';
import { isAdmin } from '../../platform/context.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import { AppError, platformErrors } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import { decodeCursor, MAX_LIMIT, toPage } from '../../platform/pagination.ts';
import { type Order, type OrdersApi, ordersErrors } from './contract.ts';
import type { Loaded, OrderStore } from './event-store.ts';
import { fold, type OrderState, placeOutcome, toOrder, toOrderEvent } from './events.ts';
import { normalizePlaceInput, requestHash } from './place-input.ts';
import { rowToOrder } from './projection.ts';
import {
  findIdempotencyKey,
  findOrderRow,
  type IdempotencyKeysTable,
  insertIdempotencyKey,
  listOrderRows,
  type OrdersDatabase,
} from './repository.ts';
import type { SagaRunner } from './saga.ts';

export interface OrdersServiceDeps {
  readonly db: Kysely<OrdersDatabase>;
  readonly store: OrderStore;
  readonly runner: SagaRunner;
  readonly clock: Clock;
}

const NO_EVENTS: Loaded = { events: [], state: undefined };

function requireActor(ctx: CallContext): Actor {
  if (!ctx.actor) throw platformErrors.UNAUTHORIZED();
  return ctx.actor;
}

/** The owner and admins see an order; anyone else is told there is no such order. */
function canSee(ctx: CallContext, userId: string): boolean {
  return ctx.actor?.id === userId || isAdmin(ctx);
}

/** The place saga's answer, from the order alone: so a replay gets the same answer as the first call. */
function placeAnswer(state: OrderState | undefined, loaded?: Loaded): Order {
  if (!state) throw platformErrors.INTERNAL('The order vanished');
  const outcome = placeOutcome(state);
  if (outcome.kind === 'confirmed') {
    // The first answer was the order as it stood when confirmed, whatever happened to it since.
    const events = loaded?.events.slice(0, state.confirmed_version ?? undefined);
    return toOrder(events ? fold(state.id, events)! : state);
  }
  if (outcome.kind === 'failed') {
    const { code, status, title, detail } = outcome.reason;
    throw new AppError(code, { status, title }, detail, { order_id: state.id });
  }
  throw ordersErrors.ORDER_STILL_PROCESSING(undefined, { order_id: state.id });
}

/** The orders use cases. Authorization is decided here from `ctx.actor`, so it holds over any transport. */
export function createOrdersService(deps: OrdersServiceDeps): OrdersApi {
  const { db, store, runner, clock } = deps;

  async function replay(existing: IdempotencyKeysTable, hash: string): Promise<Order> {
    if (existing.request_hash !== hash) throw ordersErrors.IDEMPOTENCY_KEY_REUSED();
    const loaded = await store.load(existing.order_id);
    if (loaded.state && placeOutcome(loaded.state).kind === 'running') {
      throw ordersErrors.IDEMPOTENCY_KEY_IN_USE(undefined, { order_id: existing.order_id });
    }
    return placeAnswer(loaded.state, loaded);
  }

  async function findOrder(ctx: CallContext, id: string) {
    requireActor(ctx);
    const row = await findOrderRow(db, id);
    if (!row || !canSee(ctx, row.user_id)) throw ordersErrors.ORDER_NOT_FOUND();
    return row;
  }

  return {
    async placeOrder(ctx, input) {
      const actor = requireActor(ctx);
      if (input.user_id !== undefined && input.user_id !== actor.id) {
        throw platformErrors.FORBIDDEN('Orders are placed for yourself');
      }
      const request = normalizePlaceInput(input);
      const hash = requestHash(request);
      const key = request.idempotency_key;
      if (key !== undefined) {
        const existing = await findIdempotencyKey(db, actor.id, key);
        if (existing) return replay(existing, hash);
      }
      const orderId = newId();
      try {
        await store.append(
          orderId,
          NO_EVENTS,
          [
            {
              type: 'OrderPlaced',
              data: {
                user_id: actor.id,
                items: request.items,
                payment_method: request.payment_method,
                ...(key === undefined ? {} : { idempotency_key: key }),
              },
            },
          ],
          {
            ctx,
            // This request runs the saga it creates: the saga row is created leased to it.
            keepLease: true,
            ...(key === undefined
              ? {}
              : {
                  also: (trx) =>
                    insertIdempotencyKey(trx, {
                      user_id: actor.id,
                      key,
                      request_hash: hash,
                      order_id: orderId,
                      created_at: clock.now().toISOString(),
                    }),
                }),
          },
        );
      } catch (err) {
        // Two requests raced with one key: the primary key let one place its order.
        if (key !== undefined && isUniqueViolation(err)) {
          const existing = await findIdempotencyKey(db, actor.id, key);
          if (existing) return replay(existing, hash);
        }
        throw err;
      }
      return placeAnswer(await runner.runToEnd(orderId, ctx, { leased: true }));
    },

    async getOrder(ctx, id) {
      return rowToOrder(await findOrder(ctx, id));
    },

    async listOrders(ctx, input) {
      const actor = requireActor(ctx);
      const userId = input.user_id ?? actor.id;
      if (userId !== actor.id && !isAdmin(ctx))
        throw platformErrors.FORBIDDEN("Only admins list others' orders");
      const { limit } = input;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw platformErrors.VALIDATION_FAILED(`limit must be 1 to ${MAX_LIMIT}`, {
          errors: [{ path: '/limit', message: `must be 1 to ${MAX_LIMIT}` }],
        });
      }
      const rows = await listOrderRows(db, userId, decodeCursor(input.cursor), limit);
      return toPage(rows, limit, (row) => row.id, rowToOrder);
    },

    async getOrderEvents(ctx, id) {
      requireActor(ctx);
      const { events, state } = await store.load(id);
      if (!state || !canSee(ctx, state.user_id)) throw ordersErrors.ORDER_NOT_FOUND();
      return events.map(toOrderEvent);
    },

    async cancelOrder(ctx, id) {
      const actor = requireActor(ctx);
      // Whether this request restarted the saga, and so holds its lease; false when it joins one under way.
      let requested = false;
      await store.execute(
        id,
        ({ state }) => {
          requested = false;
          if (!state || !canSee(ctx, state.user_id)) throw ordersErrors.ORDER_NOT_FOUND();
          // A cancellation already under way is joined rather than refused.
          if (state.status === 'confirmed' && state.cancellation) return [];
          if (state.status !== 'confirmed') {
            throw ordersErrors.ORDER_NOT_CANCELLABLE(`The order is ${state.status}`);
          }
          requested = true;
          return [{ type: 'CancellationRequested', data: { by: actor.id } }];
        },
        { ctx, keepLease: true },
      );
      const state = await runner.runToEnd(id, ctx, { leased: requested });
      if (state?.status !== 'cancelled')
        throw ordersErrors.ORDER_STILL_PROCESSING(undefined, { order_id: id });
      return toOrder(state);
    },

    async shipOrder(ctx, id) {
      const actor = requireActor(ctx);
      if (!isAdmin(ctx)) throw platformErrors.FORBIDDEN('Only admins ship orders');
      const { state } = await store.execute(
        id,
        ({ state }) => {
          if (!state) throw ordersErrors.ORDER_NOT_FOUND();
          if (state.status !== 'confirmed' || state.cancellation) {
            throw ordersErrors.ORDER_NOT_SHIPPABLE(
              state.cancellation ? 'A cancellation is under way' : `The order is ${state.status}`,
            );
          }
          return [{ type: 'OrderShipped', data: { by: actor.id } }];
        },
        { ctx },
      );
      return toOrder(state!);
    },
  };
}
