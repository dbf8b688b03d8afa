import type { Kysely } from 'kysely';
import type { vi } from 'vitest';
import { ordersMigrations } from '../../../migrations/orders/index.ts';
import type { Clock } from '../../platform/clock.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { type AppError, isAppError } from '../../platform/errors.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import { newId } from '../../platform/ids.ts';
import { createLogger } from '../../platform/log.ts';
import { catalogErrors, type Reservation } from '../catalog/index.ts';
import { type Payment, paymentsErrors } from '../payments/index.ts';
import { createInProcessOrders } from './adapters/in-process.ts';
import type { OrdersApi, OrdersEvents } from './contract.ts';
import { createOrderStore, type OrderStore } from './event-store.ts';
import type { CatalogPort, PaymentsPort } from './ports.ts';
import type { OrdersDatabase } from './repository.ts';
import { createSagaRunner, type SagaRunner } from './saga.ts';
import { createOrdersService } from './service.ts';

/**
 * How a fake participant method behaves: first `lose` calls work but their answers are lost (the effect
 * happened, the caller saw an error), then `fail` calls fail with no effect; `gate` makes it slow.
 */
export interface Behaviour {
  calls: number;
  fail: number;
  lose: number;
  gate: Promise<void> | undefined;
}

const behaviour = (): Behaviour => ({ calls: 0, fail: 0, lose: 0, gate: undefined });

async function behave<T>(b: Behaviour, journal: string[], name: string, work: () => T): Promise<T> {
  b.calls += 1;
  journal.push(name);
  if (b.gate) await b.gate;
  if (b.lose > 0) {
    b.lose -= 1;
    work();
    throw new Error(`${name}: connection reset`);
  }
  if (b.fail > 0) {
    b.fail -= 1;
    throw new Error(`${name}: service unavailable`);
  }
  return work();
}

/** A gate that holds calls until opened. */
export function createGate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export interface FakeCatalog extends CatalogPort {
  readonly behaviour: { reserveStock: Behaviour; releaseStock: Behaviour };
  readonly stock: Map<string, number>;
  readonly reservations: Map<string, { state: 'reserved' | 'released'; reservation: Reservation }>;
  /** Stock taken from `productId` and not given back. */
  held(productId: string): number;
}

/** A hand-written catalog with the contract's rules: one reservation per id, all or nothing, tombstones. */
export function createFakeCatalog(
  products: Record<string, { price_minor: number; stock: number }>,
  journal: string[] = [],
): FakeCatalog {
  const initial = new Map(Object.entries(products).map(([id, p]) => [id, p.stock]));
  const stock = new Map(initial);
  const reservations: FakeCatalog['reservations'] = new Map();
  const b = { reserveStock: behaviour(), releaseStock: behaviour() };
  return {
    behaviour: b,
    stock,
    reservations,
    held: (productId) => (initial.get(productId) ?? 0) - (stock.get(productId) ?? 0),
    reserveStock: (_ctx, input) =>
      behave(b.reserveStock, journal, 'reserveStock', () => {
        const existing = reservations.get(input.reservation_id);
        if (existing?.state === 'released') throw catalogErrors.RESERVATION_RELEASED();
        if (existing) return existing.reservation;
        for (const item of input.items) {
          const product = products[item.product_id];
          if (!product) throw catalogErrors.PRODUCT_NOT_FOUND(undefined, { product_id: item.product_id });
          if ((stock.get(item.product_id) ?? 0) < item.quantity) {
            throw catalogErrors.OUT_OF_STOCK(`Not enough of ${item.product_id}`, {
              product_id: item.product_id,
            });
          }
        }
        const items = input.items.map((i) => ({
          ...i,
          unit_price_minor: products[i.product_id]!.price_minor,
        }));
        for (const i of items) stock.set(i.product_id, stock.get(i.product_id)! - i.quantity);
        const reservation: Reservation = {
          reservation_id: input.reservation_id,
          items,
          total_minor: items.reduce((sum, i) => sum + i.quantity * i.unit_price_minor, 0),
          currency: 'USD',
        };
        reservations.set(input.reservation_id, { state: 'reserved', reservation });
        return reservation;
      }),
    releaseStock: (_ctx, input) =>
      behave(b.releaseStock, journal, 'releaseStock', () => {
        const existing = reservations.get(input.reservation_id);
        if (existing?.state === 'reserved') {
          for (const i of existing.reservation.items)
            stock.set(i.product_id, stock.get(i.product_id)! + i.quantity);
          existing.state = 'released';
          return { released: true };
        }
        if (!existing) {
          reservations.set(input.reservation_id, {
            state: 'released',
            reservation: { reservation_id: input.reservation_id, items: [], total_minor: 0, currency: 'USD' },
          });
        }
        return { released: false };
      }),
  };
}

export interface FakePayments extends PaymentsPort {
  readonly behaviour: { charge: Behaviour; refund: Behaviour };
  readonly charges: Map<string, Payment>;
  readonly refunds: Map<string, Payment & { charge_key: string }>;
  readonly closedKeys: Set<string>;
  /** Money charged and not refunded. */
  net(): number;
}

/** A hand-written payments module: one charge and one refund per key, declines kept, keys closed. */
export function createFakePayments(journal: string[] = []): FakePayments {
  const charges = new Map<string, Payment>();
  const refunds: FakePayments['refunds'] = new Map();
  const closedKeys = new Set<string>();
  const b = { charge: behaviour(), refund: behaviour() };
  const payment = (fields: Pick<Payment, 'order_id' | 'user_id' | 'kind' | 'amount_minor' | 'status'>) => ({
    id: newId(),
    currency: 'USD',
    created_at: new Date().toISOString(),
    ...fields,
  });
  return {
    behaviour: b,
    charges,
    refunds,
    closedKeys,
    net: () =>
      [...charges.values()].filter((c) => c.status === 'succeeded').reduce((s, c) => s + c.amount_minor, 0) -
      [...refunds.values()].reduce((s, r) => s + r.amount_minor, 0),
    charge: (_ctx, input) =>
      behave(b.charge, journal, 'charge', () => {
        let charge = charges.get(input.idempotency_key);
        if (!charge) {
          if (closedKeys.has(input.idempotency_key)) throw paymentsErrors.CHARGE_VOIDED();
          const status = input.payment_method === 'pm_card_visa' ? 'succeeded' : 'failed';
          charge = payment({ ...input, kind: 'charge', status });
          charges.set(input.idempotency_key, charge);
        }
        if (charge.status === 'failed') throw paymentsErrors.PAYMENT_DECLINED();
        return charge;
      }),
    refund: (_ctx, input) =>
      behave(b.refund, journal, 'refund', () => {
        const existing = refunds.get(input.idempotency_key);
        if (existing) return existing;
        const charge = charges.get(input.charge_key);
        if (!charge) {
          closedKeys.add(input.charge_key);
          return null;
        }
        if (charge.status !== 'succeeded') return null;
        const refund = {
          ...payment({ ...charge, kind: 'refund', status: 'succeeded' }),
          charge_key: input.charge_key,
        };
        refunds.set(input.idempotency_key, refund);
        return refund;
      }),
  };
}

export const customer: CallContext = { requestId: 'req-customer', actor: { id: 'user-1', role: 'customer' } };
export const otherCustomer: CallContext = {
  requestId: 'req-other',
  actor: { id: 'user-2', role: 'customer' },
};
export const admin: CallContext = { requestId: 'req-admin', actor: { id: 'admin-1', role: 'admin' } };

export interface Harness {
  readonly database: ModuleDatabase<OrdersDatabase>;
  readonly db: Kysely<OrdersDatabase>;
  readonly store: OrderStore;
  readonly runner: SagaRunner;
  /** The service behind the in-process adapter, as other modules see it. */
  readonly api: OrdersApi;
  readonly catalog: FakeCatalog;
  readonly payments: FakePayments;
  /** Every participant call, in order. */
  readonly journal: string[];
  /** Integration events written to the outbox, oldest first. */
  outboxEvents(): Promise<Array<{ type: string; data: Record<string, unknown> }>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly products?: Record<string, { price_minor: number; stock: number }>;
  readonly deadlineMs?: number;
  readonly leaseMs?: number;
  readonly sweepIntervalMs?: number;
  readonly clock?: Clock;
  /** Another runner over the same database, as a second process would have. */
  readonly database?: ModuleDatabase<OrdersDatabase>;
  readonly catalog?: FakeCatalog;
  readonly payments?: FakePayments;
}

export const PRODUCTS = {
  lamp: { price_minor: 1299, stock: 10 },
  chair: { price_minor: 4500, stock: 3 },
  book: { price_minor: 800, stock: 100 },
};

/** The orders module's parts over a real SQLite database, with fake participants. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const database = options.database ?? openDatabase<OrdersDatabase>({ url: 'sqlite::memory:' });
  if (!options.database) await migrateToLatest(database.db as Kysely<unknown>, 'orders', ordersMigrations);
  const journal: string[] = [];
  const catalog = options.catalog ?? createFakeCatalog(options.products ?? PRODUCTS, journal);
  const payments = options.payments ?? createFakePayments(journal);
  const clock = options.clock ?? { now: () => new Date() };
  const leaseMs = options.leaseMs ?? 5_000;
  const outbox = createOutbox<OrdersDatabase, OrdersEvents>(database.db, 'orders');
  const store = createOrderStore({
    db: database.db,
    outbox,
    clock,
    leaseMs,
    deadlineMs: options.deadlineMs ?? 30_000,
  });
  const runner = createSagaRunner({
    db: database.db,
    store,
    ports: { catalog, payments },
    clock,
    log: createLogger({ level: 'silent' }),
    leaseMs,
    sweepIntervalMs: options.sweepIntervalMs ?? 1_000,
  });
  const api = createInProcessOrders(createOrdersService({ db: database.db, store, runner, clock }));
  return {
    database,
    db: database.db,
    store,
    runner,
    api,
    catalog,
    payments,
    journal,
    async outboxEvents() {
      const rows = await database.db
        .selectFrom('outbox')
        .select(['type', 'envelope'])
        .orderBy('seq')
        .execute();
      return rows.map((r) => ({ type: r.type, data: JSON.parse(r.envelope).data }));
    },
    async close() {
      await runner.stop();
      if (!options.database) await database.close();
    },
  };
}

/** Fake timers for the clock, the backoff and the sweep; promises and I/O keep running. */
export const FAKE_TIMERS: Parameters<typeof vi.useFakeTimers>[0] = {
  toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
};

/** The AppError `promise` rejected with; fails when it resolved or rejected with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (isAppError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
