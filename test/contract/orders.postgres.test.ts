import type { Kysely } from 'kysely';
import pino from 'pino';
import { describe } from 'vitest';
import { type CatalogModuleDeps, createCatalogModule } from '../../src/modules/catalog/index.ts';
import { createOrdersModule, type OrdersModuleDeps } from '../../src/modules/orders/index.ts';
import { createPaymentsModule, type PaymentsModuleDeps } from '../../src/modules/payments/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import type { ModuleInstance } from '../../src/platform/module.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import { defineOrdersContract } from './orders.contract.ts';

const admin: CallContext = { requestId: 'contract-seed', actor: { id: 'admin-1', role: 'admin' } };

// The real catalog and payments modules, each on a Postgres database of its own, as the split wires them.
describe.skipIf(!(await needs('postgres')))('on Postgres', () => {
  defineOrdersContract('in-process, Postgres', async () => {
    const servers: TestDatabase[] = [];
    const fresh = async (module: string) => {
      const server = await createTestDatabase(`orders_contract_${module}`);
      servers.push(server);
      return server.url;
    };
    const log = pino({ level: 'silent' });
    const bus = createMemoryBus();
    const catalogDb: CatalogModuleDeps['database'] = openDatabase({ url: await fresh('catalog') });
    const paymentsDb: PaymentsModuleDeps['database'] = openDatabase({ url: await fresh('payments') });
    const ordersDb: OrdersModuleDeps['database'] = openDatabase({ url: await fresh('orders') });
    const catalog = createCatalogModule({ database: catalogDb, bus, log });
    const payments = createPaymentsModule({ database: paymentsDb, bus, log });
    const orders = createOrdersModule({
      database: ordersDb,
      bus,
      log,
      catalog: catalog.api,
      payments: payments.api,
    });
    const modules: Array<[ModuleInstance<unknown>, { db: unknown; close(): Promise<void> }]> = [
      [catalog, catalogDb],
      [payments, paymentsDb],
      [orders, ordersDb],
    ];
    for (const [module, database] of modules) {
      await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
      await module.start();
    }
    return {
      api: orders.api,
      async seedProduct({ price_minor, stock }) {
        const product = await catalog.api.createProduct(admin, {
          name: `Product ${Math.random()}`,
          price_minor,
          stock,
        });
        return product.id;
      },
      async stockOf(productId) {
        return (await catalog.api.getProduct(admin, productId)).stock;
      },
      async paymentsOf(orderId) {
        return payments.api.listPayments(admin, orderId);
      },
      async close() {
        for (const [module] of [...modules].reverse()) await module.stop();
        await bus.close();
        for (const [, database] of modules) await database.close();
        for (const server of servers) await server.drop();
      },
    };
  });
});
