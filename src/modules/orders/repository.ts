import type { Kysely, Transaction } from 'kysely';
import type { EventTables } from '../../platform/events/tables.ts';
import type { DomainEvent, OrderEventType, RecordedEvent } from './events.ts';

export interface OrderEventsTable {
  order_id: string;
  version: number;
  type: string;
  /** JSON text. */
  data: string;
  occurred_at: string;
}

/** The read model: one row per order, the fold of its events. */
export interface OrdersTable {
  id: string;
  user_id: string;
  status: string;
  /** bigint: Postgres answers it as text, so read it through Number(). */
  total_minor: number | string | null;
  currency: string;
  /** JSON text of the order lines. */
  items: string;
  cancel_reason: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export type SagaKind = 'place' | 'cancel';

export interface SagasTable {
  order_id: string;
  kind: SagaKind;
  status: 'running' | 'done';
  attempts: number;
  /** Epoch milliseconds, as are the lease and the deadline. */
  next_attempt_at: number | string;
  lease_until: number | string | null;
  deadline_at: number | string;
  last_error: string | null;
  updated_at: string;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  order_id: string;
  created_at: string;
}

export interface OrdersTables {
  order_events: OrderEventsTable;
  orders: OrdersTable;
  sagas: SagasTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type OrdersDatabase = OrdersTables & EventTables;

type Db = Kysely<OrdersDatabase> | Transaction<OrdersDatabase>;

/** A saga row with its numbers as numbers. */
export interface SagaRow {
  readonly order_id: string;
  readonly kind: SagaKind;
  readonly status: 'running' | 'done';
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly lease_until: number | null;
  readonly deadline_at: number;
  readonly last_error: string | null;
}

export async function loadEvents(db: Db, orderId: string): Promise<RecordedEvent[]> {
  const rows = await db
    .selectFrom('order_events')
    .select(['version', 'type', 'data', 'occurred_at'])
    .where('order_id', '=', orderId)
    .orderBy('version')
    .execute();
  return rows.map(
    (row) =>
      ({
        type: row.type as OrderEventType,
        version: Number(row.version),
        occurred_at: row.occurred_at,
        data: JSON.parse(row.data),
      }) as RecordedEvent,
  );
}

/** Every order id with events, for rebuilding the read model. */
export async function listOrderIds(db: Db, after: string | undefined, limit: number): Promise<string[]> {
  let query = db.selectFrom('order_events').select('order_id').where('version', '=', 1);
  if (after !== undefined) query = query.where('order_id', '>', after);
  const rows = await query.orderBy('order_id').limit(limit).execute();
  return rows.map((r) => r.order_id);
}

/**
 * Appends `events` after `afterVersion`. Raises a unique violation when another writer got there first:
 * the caller reloads and decides again.
 */
export async function insertEvents(
  trx: Transaction<OrdersDatabase>,
  orderId: string,
  afterVersion: number,
  events: readonly DomainEvent[],
  occurredAt: string,
): Promise<RecordedEvent[]> {
  const recorded = events.map(
    (e, i) => ({ ...e, version: afterVersion + i + 1, occurred_at: occurredAt }) as RecordedEvent,
  );
  await trx
    .insertInto('order_events')
    .values(
      recorded.map((e) => ({
        order_id: orderId,
        version: e.version,
        type: e.type,
        data: JSON.stringify(e.data),
        occurred_at: e.occurred_at,
      })),
    )
    .execute();
  return recorded;
}

export async function findOrderRow(db: Db, orderId: string) {
  return db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
}

/** One user's orders, newest first, `limit + 1` rows for `toPage`. */
export async function listOrderRows(db: Db, userId: string, before: string | undefined, limit: number) {
  let query = db.selectFrom('orders').selectAll().where('user_id', '=', userId);
  if (before !== undefined) query = query.where('id', '<', before);
  return query
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
}

/** A new or restarted saga; `lease_until` set when its creator runs it next, else null. */
interface SagaStart {
  kind: SagaKind;
  next_attempt_at: number;
  deadline_at: number;
  lease_until: number | null;
  updated_at: string;
}

export async function insertSaga(
  trx: Transaction<OrdersDatabase>,
  row: SagaStart & { order_id: string },
): Promise<void> {
  await trx
    .insertInto('sagas')
    .values({ ...row, status: 'running', attempts: 0, last_error: null })
    .execute();
}

/** Starts the order's saga again as another kind (a cancellation after the place saga). */
export async function restartSaga(
  trx: Transaction<OrdersDatabase>,
  orderId: string,
  row: SagaStart,
): Promise<void> {
  await trx
    .updateTable('sagas')
    .set({ ...row, status: 'running', attempts: 0, last_error: null })
    .where('order_id', '=', orderId)
    .execute();
}

export async function finishSaga(db: Db, orderId: string, at: string) {
  await db
    .updateTable('sagas')
    .set({ status: 'done', lease_until: null, last_error: null, updated_at: at })
    .where('order_id', '=', orderId)
    .where('status', '=', 'running')
    .execute();
}

export async function findSaga(db: Db, orderId: string): Promise<SagaRow | undefined> {
  const row = await db.selectFrom('sagas').selectAll().where('order_id', '=', orderId).executeTakeFirst();
  return row && toSagaRow(row);
}

/** Takes the lease if nobody holds it; false when another runner does. */
export async function takeLease(db: Db, orderId: string, now: number, leaseMs: number): Promise<boolean> {
  const result = await db
    .updateTable('sagas')
    .set({ lease_until: now + leaseMs })
    .where('order_id', '=', orderId)
    .where('status', '=', 'running')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Keeps the lease for the next step; written in the same transaction as the step's outcome. */
export async function extendLease(trx: Transaction<OrdersDatabase>, orderId: string, until: number) {
  await trx
    .updateTable('sagas')
    .set({ lease_until: until })
    .where('order_id', '=', orderId)
    .where('status', '=', 'running')
    .execute();
}

export async function releaseLease(db: Db, orderId: string): Promise<void> {
  await db.updateTable('sagas').set({ lease_until: null }).where('order_id', '=', orderId).execute();
}

/** Records a transient failure and lets go of the saga until `nextAttemptAt`. */
export async function recordFailure(
  db: Db,
  orderId: string,
  failure: { attempts: number; next_attempt_at: number; last_error: string; updated_at: string },
): Promise<void> {
  await db
    .updateTable('sagas')
    .set({ ...failure, lease_until: null })
    .where('order_id', '=', orderId)
    .execute();
}

/** Ids of every unfinished saga, for recovery at start. */
export async function listRunningSagas(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('sagas')
    .select('order_id')
    .where('status', '=', 'running')
    .orderBy('next_attempt_at')
    .execute();
  return rows.map((r) => r.order_id);
}

/** Unfinished sagas whose next attempt is due and whose lease, if any, has expired. */
export async function listDueSagas(db: Db, now: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('sagas')
    .select('order_id')
    .where('status', '=', 'running')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.order_id);
}

export async function findIdempotencyKey(db: Db, userId: string, key: string) {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .executeTakeFirst();
}

export async function insertIdempotencyKey(trx: Transaction<OrdersDatabase>, row: IdempotencyKeysTable) {
  await trx.insertInto('idempotency_keys').values(row).execute();
}

function toSagaRow(row: SagasTable): SagaRow {
  return {
    order_id: row.order_id,
    kind: row.kind,
    status: row.status,
    attempts: Number(row.attempts),
    next_attempt_at: Number(row.next_attempt_at),
    lease_until: row.lease_until === null ? null : Number(row.lease_until),
    deadline_at: Number(row.deadline_at),
    last_error: row.last_error,
  };
}
