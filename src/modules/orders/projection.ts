import type { Kysely, Transaction } from 'kysely';
import type { Order, OrderLine, OrderStatus } from './contract.ts';
import { fold, type OrderState } from './events.ts';
import { listOrderIds, loadEvents, type OrdersDatabase, type OrdersTable } from './repository.ts';

/** The read-model row of an order: a function of its events alone. */
export function toProjectionRow(state: OrderState): OrdersTable {
  return {
    id: state.id,
    user_id: state.user_id,
    status: state.status,
    total_minor: state.total_minor,
    currency: state.currency,
    items: JSON.stringify(state.items),
    cancel_reason: state.cancel_reason,
    version: state.version,
    created_at: state.created_at,
    updated_at: state.updated_at,
  };
}

/** Writes the order's row; called in the same transaction as every append, so reads are consistent. */
export async function updateProjection(trx: Transaction<OrdersDatabase>, state: OrderState): Promise<void> {
  const row = toProjectionRow(state);
  const { id: _id, ...changes } = row;
  await trx
    .insertInto('orders')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet(changes))
    .execute();
}

/** The order as the contract shows it, from its read-model row. */
export function rowToOrder(row: OrdersTable): Order {
  return {
    id: row.id,
    user_id: row.user_id,
    items: JSON.parse(row.items) as OrderLine[],
    total_minor: row.total_minor === null ? null : Number(row.total_minor),
    currency: row.currency,
    status: row.status as OrderStatus,
    cancel_reason: row.cancel_reason,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const REBUILD_BATCH = 200;

/**
 * Deletes the read model and recomputes it from `order_events` alone, for `npm run rebuild-projections`.
 * Runs in one transaction, so readers see the old table or the new one. Returns how many orders it wrote.
 */
export async function rebuildOrderProjections(db: Kysely<OrdersDatabase>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('orders').execute();
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const ids = await listOrderIds(trx, after, REBUILD_BATCH);
      for (const id of ids) {
        const state = fold(id, await loadEvents(trx, id));
        if (state) await trx.insertInto('orders').values(toProjectionRow(state)).execute();
        count += 1;
      }
      if (ids.length < REBUILD_BATCH) return count;
      after = ids.at(-1);
    }
  });
}
