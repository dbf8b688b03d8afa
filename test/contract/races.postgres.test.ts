import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CatalogApi,
  type CatalogModuleDeps,
  createCatalogModule,
} from '../../src/modules/catalog/index.ts';
import {
  createNotificationsModule,
  type NotificationSender,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import {
  createPaymentsModule,
  type PaymentsApi,
  type PaymentsModuleDeps,
} from '../../src/modules/payments/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { hasCode } from '../../src/platform/errors.ts';
import { createEnvelope } from '../../src/platform/events/envelope.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import type { ModuleInstance } from '../../src/platform/module.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';

const log = pino({ level: 'silent' });
const admin: CallContext = { requestId: 'race-admin', actor: { id: 'admin-1', role: 'admin' } };
const customer: CallContext = { requestId: 'race-customer', actor: { id: 'customer-1', role: 'customer' } };

/** A module on a fresh Postgres database of its own, migrated and started; `close` undoes it all. */
async function started<Api>(
  prefix: string,
  create: (url: string) => { module: ModuleInstance<Api>; database: { db: unknown; close(): Promise<void> } },
): Promise<{ api: Api; close(): Promise<void> }> {
  const server: TestDatabase = await createTestDatabase(prefix);
  const { module, database } = create(server.url);
  await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
  await module.start();
  return {
    api: module.api,
    async close() {
      await module.stop();
      await database.close();
      await server.drop();
    },
  };
}

/**
 * The claims that Postgres's READ COMMITTED could break and SQLite's single writer cannot: each race is
 * run many times at once, so an interleaving that breaks it is all but certain to occur.
 */
describe.skipIf(!(await needs('postgres')))('races on Postgres', () => {
  describe('catalog', () => {
    let close: () => Promise<void>;
    let api: CatalogApi;
    beforeAll(async () => {
      const bus = createMemoryBus();
      const catalog = await started('race_catalog', (url) => {
        const database: CatalogModuleDeps['database'] = openDatabase({ url });
        return { database, module: createCatalogModule({ database, bus, log }) };
      });
      api = catalog.api;
      close = catalog.close;
    });
    afterAll(() => close?.());

    const seed = async (stock: number) =>
      (await api.createProduct(admin, { name: `Race ${randomUUID()}`, price_minor: 100, stock })).id;
    const stockOf = async (id: string) => (await api.getProduct(admin, id)).stock;

    it('gives exactly 10 of 200 concurrent reservations against stock 10', async () => {
      const mug = await seed(10);
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, () =>
          api.reserveStock(customer, {
            reservation_id: randomUUID(),
            items: [{ product_id: mug, quantity: 1 }],
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect(results.every((r) => r.status === 'fulfilled' || hasCode(r.reason, 'OUT_OF_STOCK'))).toBe(true);
      expect(await stockOf(mug)).toBe(0);
    });

    it('returns the stock of a reservation once, however many releases race', async () => {
      const mug = await seed(100);
      const ids = Array.from({ length: 10 }, () => randomUUID());
      for (const id of ids) {
        await api.reserveStock(customer, { reservation_id: id, items: [{ product_id: mug, quantity: 2 }] });
      }
      const results = await Promise.all(
        ids.flatMap((id) =>
          Array.from({ length: 10 }, () => api.releaseStock(customer, { reservation_id: id })),
        ),
      );
      expect(results.filter((r) => r.released)).toHaveLength(10);
      expect(await stockOf(mug)).toBe(100);
    });

    it('neither deadlocks nor loses stock when releases and reservations of two products cross', async () => {
      const [a, b] = [await seed(1000), await seed(1000)];
      const old = Array.from({ length: 40 }, () => randomUUID());
      for (const id of old) {
        // Listed b first: a release that returned stock in this order would lock b, then a.
        await api.reserveStock(customer, {
          reservation_id: id,
          items: [
            { product_id: b, quantity: 1 },
            { product_id: a, quantity: 1 },
          ],
        });
      }
      const results = await Promise.allSettled([
        ...old.map((id) => api.releaseStock(customer, { reservation_id: id })),
        ...old.map(() =>
          api.reserveStock(customer, {
            reservation_id: randomUUID(),
            items: [
              { product_id: a, quantity: 1 },
              { product_id: b, quantity: 1 },
            ],
          }),
        ),
      ]);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect([await stockOf(a), await stockOf(b)]).toEqual([960, 960]);
    });
  });

  describe('payments', () => {
    let close: () => Promise<void>;
    let api: PaymentsApi;
    beforeAll(async () => {
      const bus = createMemoryBus();
      const payments = await started('race_payments', (url) => {
        const database: PaymentsModuleDeps['database'] = openDatabase({ url });
        return { database, module: createPaymentsModule({ database, bus, log }) };
      });
      api = payments.api;
      close = payments.close;
    });
    afterAll(() => close?.());

    function anOrder() {
      const orderId = `order-${randomUUID()}`;
      const userId = `user-${randomUUID()}`;
      const ctx: CallContext = { requestId: orderId, actor: { id: userId, role: 'customer' } };
      const charge = {
        idempotency_key: `${orderId}:charge`,
        order_id: orderId,
        user_id: userId,
        amount_minor: 2599,
        currency: 'USD',
        payment_method: 'pm_card_visa' as const,
      };
      const refund = {
        idempotency_key: `${orderId}:refund`,
        order_id: orderId,
        charge_key: charge.idempotency_key,
      };
      return { orderId, ctx, charge, refund };
    }

    it('makes one charge of concurrent charges with one key', async () => {
      const orders = Array.from({ length: 10 }, anOrder);
      await Promise.all(
        orders.map(async (order) => {
          const results = await Promise.all(
            Array.from({ length: 10 }, () => api.charge(order.ctx, order.charge)),
          );
          for (const result of results) expect(result).toEqual(results[0]);
          expect(await api.listPayments(order.ctx, order.orderId)).toHaveLength(1);
        }),
      );
    });

    it('leaves a charge that races its refund either refunded or never made', async () => {
      const orders = Array.from({ length: 60 }, anOrder);
      const outcomes = await Promise.all(
        orders.map(async (order) => {
          const [charged, refunded] = await Promise.allSettled([
            api.charge(order.ctx, order.charge),
            api.refund(order.ctx, order.refund),
          ]);
          const kinds = (await api.listPayments(order.ctx, order.orderId)).map((p) => p.kind);
          if (charged.status === 'fulfilled') {
            // The charge came first: the refund must have refunded it.
            expect(refunded.status === 'fulfilled' && refunded.value?.kind).toBe('refund');
            expect(kinds).toEqual(['charge', 'refund']);
            return 'refunded';
          }
          expect(hasCode(charged.reason, 'CHARGE_VOIDED')).toBe(true);
          expect(refunded).toEqual({ status: 'fulfilled', value: null });
          expect(kinds).toEqual([]);
          return 'voided';
        }),
      );
      expect(outcomes).toHaveLength(60);
    });
  });

  describe('notifications', () => {
    it('sends each notification once when two instances dispatch from one database', async () => {
      const server = await createTestDatabase('race_notifications');
      const sends = new Map<string, number>();
      const sender: NotificationSender = {
        async send({ notification }) {
          sends.set(notification.id, (sends.get(notification.id) ?? 0) + 1);
          await new Promise((done) => setTimeout(done, 3));
        },
      };
      const instances = [0, 1].map(() => {
        const database = openDatabase<NotificationsDatabase>({ url: server.url });
        const bus = createMemoryBus();
        const module = createNotificationsModule({ database, bus, log, sender, dispatchIntervalMs: 5 });
        return { database, bus, module };
      });
      try {
        const [first, second] = instances;
        await migrateToLatest(
          first!.database.db as Kysely<unknown>,
          'notifications',
          first!.module.migrations,
        );
        for (const { module } of instances) await module.start();
        const events = Array.from({ length: 40 }, (_, i) =>
          createEnvelope('orders', 'orders.order_shipped', { order_id: `o${i}`, user_id: `u${i}` }),
        );
        // Both instances consume, as two replicas sharing one queue would.
        await Promise.all(
          events.map((event, i) => (i % 2 ? second! : first!).module.subscriptions[0]!.handle(event)),
        );
        await vi.waitFor(() => expect(sends.size).toBe(40), { timeout: 10_000 });
        // Long enough for a late duplicate to show.
        await new Promise((done) => setTimeout(done, 200));
        expect([...sends.values()].filter((n) => n !== 1)).toEqual([]);
      } finally {
        for (const { module, bus, database } of instances) {
          await module.stop();
          await bus.close();
          await database.close();
        }
        await server.drop();
      }
    });
  });
});
