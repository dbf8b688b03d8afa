import type { Kysely, Selectable } from 'kysely';
import type { EventTables } from '../../platform/events/tables.ts';
import type { Payment, PaymentMethod } from './contract.ts';

export interface PaymentsTable {
  id: string;
  idempotency_key: string;
  order_id: string;
  user_id: string;
  kind: 'charge' | 'refund';
  amount_minor: number;
  currency: string;
  status: 'succeeded' | 'failed';
  payment_method: PaymentMethod | null;
  /** On a refund, the idempotency key of the charge it refunds. */
  charge_key: string | null;
  created_at: string;
}

/** Charge keys a refund closed before any charge arrived: a late charge with one is refused. */
export interface ClosedKeysTable {
  key: string;
  closed_at: string;
}

export interface PaymentsTables {
  payments: PaymentsTable;
  closed_keys: ClosedKeysTable;
}

export type PaymentsDatabase = PaymentsTables & EventTables;

export type PaymentRow = Selectable<PaymentsTable>;

/** Postgres hands `bigint` back as a string; SQLite as a number. */
export function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    order_id: row.order_id,
    user_id: row.user_id,
    kind: row.kind,
    amount_minor: Number(row.amount_minor),
    currency: row.currency,
    status: row.status,
    created_at: row.created_at,
  };
}

/** Queries on the payments module's own tables; `db` may be a transaction. */
export const paymentsRepository = {
  findByKey(db: Kysely<PaymentsDatabase>, idempotencyKey: string): Promise<PaymentRow | undefined> {
    return db
      .selectFrom('payments')
      .selectAll()
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
  },

  findRefundOf(db: Kysely<PaymentsDatabase>, chargeKey: string): Promise<PaymentRow | undefined> {
    return db
      .selectFrom('payments')
      .selectAll()
      .where('charge_key', '=', chargeKey)
      .where('kind', '=', 'refund')
      .executeTakeFirst();
  },

  /** The order's payments, oldest first (ids are time-ordered, so they break ties). */
  listByOrder(db: Kysely<PaymentsDatabase>, orderId: string): Promise<PaymentRow[]> {
    return db
      .selectFrom('payments')
      .selectAll()
      .where('order_id', '=', orderId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
  },

  /**
   * Inserts unless a row with the same idempotency key (or, for a refund, charge key) exists; true when
   * this call wrote it. The unique constraints decide, so racing writers on two connections are safe too.
   */
  async insertPayment(db: Kysely<PaymentsDatabase>, row: PaymentRow): Promise<boolean> {
    const result = await db
      .insertInto('payments')
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  },

  async isClosed(db: Kysely<PaymentsDatabase>, key: string): Promise<boolean> {
    const row = await db.selectFrom('closed_keys').select('key').where('key', '=', key).executeTakeFirst();
    return row !== undefined;
  },

  async closeKey(db: Kysely<PaymentsDatabase>, key: string, now: string): Promise<void> {
    await db
      .insertInto('closed_keys')
      .values({ key, closed_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
  },
};
